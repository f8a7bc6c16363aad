"""`chiroref serve` (embedded default) owns its worker and beat: they stop with it."""

from __future__ import annotations

import os
import signal
from contextlib import suppress
from pathlib import Path

import pytest

from .harness import clean_env, free_port, spawned, wait_http, wait_until

pytestmark = pytest.mark.e2e


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:  # ppid
                found.add(int(entry.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, 0)
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                alive.add(pid)
    return alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_the_worker_and_beat_stop_with_the_gateway(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    env = clean_env(CHIROREF_PORT=str(port))
    log = tmp_path / "serve.log"
    with spawned(["serve"], env, log, cwd=tmp_path) as gateway:
        wait_http(f"http://127.0.0.1:{port}/fhir/metadata", gateway, log)
        companions = wait_until(lambda: _children(gateway.pid) or None, 30,
                                "worker and beat started", gateway, log)
        assert len(companions) == 2
        os.kill(gateway.pid, sig)
        gateway.wait(20)
        wait_until(lambda: not _alive(companions), 20, "worker and beat stopped", log=log)
