"""Reusable by the end-to-end tests: a GP receiver on 127.0.0.1 (tests/support/receiver.py)
as a fixture, and real `chiroref worker` / `chiroref beat` subprocesses.

    gp_receiver.url, gp_receiver.wait_for(ids), gp_receiver.count(id)
    with worker_processes(env, tmp_path): ...   # worker (+ beat) with CHIROREF_* env
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.receiver import Receiver

REDIS_URL = os.environ.get("CHIROREF_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gp_receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
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
