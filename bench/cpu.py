"""CPU seconds of processes under test, read from /proc (Linux), for "CPU per request":
the steadier figure on a shared machine, where throughput moves with the neighbours' load
and CPU per request moves much less."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable

_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def cpu_seconds(pids: Iterable[int]) -> float:
    return sum(process_cpu_seconds(pid) for pid in pids)


def pg_backend_pids(admin_url: str, database: str) -> list[int]:
    """The server processes serving connections to `database` (psql on `admin_url`)."""
    out = subprocess.run(
        ["psql", admin_url, "-At", "-c",
         f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'"],
        check=True, capture_output=True, text=True,
    ).stdout
    return [int(line) for line in out.split()]
