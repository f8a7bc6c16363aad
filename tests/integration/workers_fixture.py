"""Reusable by the end-to-end tests: a GP receiver on 127.0.0.1 that records the message
Bundle ids it gets, and real `chiroref worker` / `chiroref beat` subprocesses.

    receiver = GpReceiver(); receiver.start() ... receiver.url, receiver.wait_for(ids)
    with worker_processes(env, tmp_path): ...   # worker (+ beat) with CHIROREF_* env
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REDIS_URL = os.environ.get("CHIROREF_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class GpReceiver:
    """A threaded HTTP server. `fail_first`: Bundle ids answered 503 the first time."""

    fail_first: set[str] = field(default_factory=set)
    status: int = 200
    received: list[str] = field(default_factory=list)  # Bundle ids, in arrival order
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/fhir"

    def start(self) -> GpReceiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def count(self, bundle_id: str) -> int:
        with self._lock:
            return self.received.count(bundle_id)

    def wait_for(self, ids: Iterable[str], timeout: float = 30.0) -> None:
        wanted = set(ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if wanted <= set(self.received):
                    return
            time.sleep(0.05)
        raise AssertionError(f"not received in {timeout}s: {wanted - set(self.received)}")

    def _answer(self, bundle_id: str) -> int:
        with self._lock:
            first = bundle_id not in self.received
            self.received.append(bundle_id)
        return 503 if first and bundle_id in self.fail_first else self.status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                bundle = json.loads(self.rfile.read(length) or b"{}")
                self.send_response(receiver._answer(str(bundle.get("id"))))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def gp_receiver() -> Iterator[GpReceiver]:
    receiver = GpReceiver().start()
    yield receiver
    receiver.stop()


def worker_env(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    """CHIROREF_* for the subprocesses: a private queue so parallel suites never share."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIROREF_")}
    env |= {
        "CHIROREF_DATABASE_URL": database_url,
        "CHIROREF_BROKER_URL": broker_url,
        "CHIROREF_CELERY_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
        "CHIROREF_SWEEP_INTERVAL_SECONDS": "0.5",
        "CHIROREF_DELIVERY_BACKOFF_BASE_SECONDS": "0.2",
        "CHIROREF_DELIVERY_BACKOFF_CAP_SECONDS": "1",
        "CHIROREF_LOG_LEVEL": "info",
        "PYTHONPATH": str(ROOT),
    }
    return env | dict(extra)


@contextmanager
def worker_processes(
    env: Mapping[str, str], logs: Path, *, beat: bool = True, pool: str = "solo"
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`chiroref worker` (and `chiroref beat`) as subprocesses; logs in `logs`/*.log."""
    env = {**env, "CHIROREF_BEAT_SCHEDULE_FILE": str(logs / "beat-schedule")}
    commands = [["worker", f"--pool={pool}", "--concurrency=1"]] + ([["beat"]] if beat else [])
    procs = [_spawn(cmd, env, logs / f"{cmd[0]}.log") for cmd in commands]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _spawn(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.cli", *args],
            env=dict(env), cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
        )
