"""Start and stop the servers under test as a user would run them: uvicorn, uvloop,
httptools, no access log, one worker, on a free 127.0.0.1 port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIDS: dict[int, int] = {}  # port -> pid of the uvicorn process serving it (one worker)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server not ready at {url}")


@contextlib.contextmanager
def uvicorn_server(app: str, *, python: str = sys.executable, factory: bool = False,
                   app_dir: Path | None = None, env: dict[str, str] | None = None,
                   ready_path: str = "/fhir/metadata") -> Iterator[int]:
    with uvicorn_server_on(free_port(), app, python=python, factory=factory,
                           app_dir=app_dir, env=env, ready_path=ready_path) as port:
        yield port


@contextlib.contextmanager
def uvicorn_server_on(port: int, app: str, *, python: str = sys.executable,
                      factory: bool = False, app_dir: Path | None = None,
                      env: dict[str, str] | None = None,
                      ready_path: str = "/fhir/metadata") -> Iterator[int]:
    """`uvicorn_server` on a port chosen by the caller (who may need it in `env` first,
    e.g. in CHIROREF_BASE_URL)."""
    cmd = [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
           "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--workers", "1",
           "--log-level", "warning"]
    if factory:
        cmd.append("--factory")
    if app_dir is not None:
        cmd += ["--app-dir", str(app_dir)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})})
    PIDS[port] = proc.pid
    try:
        _wait_ready(f"http://127.0.0.1:{port}{ready_path}", proc)
        yield port
    finally:
        PIDS.pop(port, None)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
