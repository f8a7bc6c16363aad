"""bench/intake.py: referral intake throughput through the HTTP API.

Creates referrals (plain POST and transaction Bundle) for a fixed count on SQLite and on
PostgreSQL, next to the ceiling of the stack (a bare FastAPI endpoint that only parses the
same JSON), two floors under chiroref (that endpoint plus the fhir.resources check, and plus
every check chiroref makes, nothing stored), the PostgreSQL POST again with the opt-in
structure fast path (CHIROREF_STRUCTURE_FAST_PATH) and, when it can be installed,
fhirstarter 4.2 keeping resources in a dict, all measured in the same run. Prints what it
measured; the last line is one JSON object.

    python bench/intake.py            # full size
    python bench/intake.py --smoke    # small and quick (CI)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu import cpu_seconds, pg_backend_pids
from loadgen import LoadResult, build_request, run_load
from servers import PIDS, ROOT, uvicorn_server

EXAMPLES = ROOT / "profiles" / "examples"
PG_ADMIN = os.environ.get("CHIROREF_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "chiroref_bench"
PEER_VENV = ROOT / ".venv-peer"
HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json",
           "Prefer": "return=minimal"}


def load_json(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def plain_bodies(n: int, tag: str) -> list[bytes]:
    base = load_json("ChiroAssessmentReferral-plain.json")
    out = []
    for i in range(n):
        doc = copy.deepcopy(base)
        doc["identifier"][0]["value"] = f"bench-{tag}-{i}"
        out.append(json.dumps(doc).encode())
    return out


def transaction_bodies(n: int, tag: str) -> list[bytes]:
    base = load_json("ChiroAssessmentReferral-bundle-no.json")
    out = []
    for i in range(n):
        doc = copy.deepcopy(base)
        for entry in doc["entry"]:
            res = entry["resource"]
            if res["resourceType"] == "ServiceRequest":
                res["identifier"][0]["value"] = f"bench-{tag}-tx-{i}"
        out.append(json.dumps(doc).encode())
    return out


def requests_for(path: str, bodies: list[bytes], port: int) -> list[bytes]:
    return [build_request("POST", path, b, f"127.0.0.1:{port}", HEADERS) for b in bodies]


def measure(port: int, path: str, make: Callable[[int, str], list[bytes]], count: int,
            connections: int, max_seconds: float,
            after_warmup: Callable[[], None] | None = None,
            with_postgresql: bool = False) -> LoadResult:
    """Warm up, then the measured run; also the CPU per request of the server process and,
    `with_postgresql`, of the bench database's backends (those open after the warm-up)."""
    warm = requests_for(path, make(max(20, count // 10), f"warm-{uuid.uuid4().hex[:8]}"), port)
    uvloop.run(run_load("127.0.0.1", port, warm, connections, max_seconds))
    if after_warmup is not None:
        after_warmup()
    reqs = requests_for(path, make(count, uuid.uuid4().hex[:8]), port)
    groups = {"server": [PIDS[port]]}
    if with_postgresql:
        groups["postgresql"] = pg_backend_pids(PG_ADMIN, PG_DB)
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    result = uvloop.run(run_load("127.0.0.1", port, reqs, connections, max_seconds))
    for name, pids in groups.items():
        used = cpu_seconds(pids) - before[name]
        result.cpu_ms_per_request[name] = round(used * 1000 / max(result.sent, 1), 3)
    return result


def report(name: str, result: LoadResult, expected: int = 201) -> dict[str, float]:
    s = result.summary()
    bad = {k: v for k, v in result.statuses.items() if k != expected}
    cpu = "  ".join(f"{k} {v:.2f}" for k, v in result.cpu_ms_per_request.items())
    print(f"{name:32s} {s['per_s']:9.1f}/s  p50 {s['p50_ms']:7.2f} ms  p99 {s['p99_ms']:7.2f} ms"
          f"  n={result.sent}  CPU ms/req: {cpu}" + (f"  UNEXPECTED {bad}" if bad else ""))
    if bad:
        raise SystemExit(f"{name}: unexpected statuses {bad}")
    return {**s, **{f"{k}_cpu_ms": v for k, v in result.cpu_ms_per_request.items()}}


def fresh_pg_url(db: str = PG_DB) -> str:
    """An empty database `db` (dropped first if it exists); its URL."""
    for sql in (f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}"):
        subprocess.run(["psql", PG_ADMIN, "-q", "-c", sql], check=True, capture_output=True)
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{db}"


def analyze_pg(db: str = PG_DB) -> None:
    """Planner statistics for the bench database, as autovacuum gives a live one within a
    minute: on never-analysed tables PostgreSQL plans the foreign-key checks with a scan of
    a secondary index, and every create gets slower (docs/performance.md, 'A fresh
    database'). It changes nothing a create does."""
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{db}"
    subprocess.run(["psql", url, "-q", "-c", "ANALYZE"], check=True, capture_output=True)


def chiroref_env(db_url: str, tree: Path = ROOT) -> dict[str, str]:
    """The server's environment on `db_url`, migrated by `tree`'s code."""
    # The demo directory holds the GP's PractitionerRole and the clinic the example
    # referral names, as a live directory would.
    env = {"CHIROREF_DATABASE_URL": db_url, "CHIROREF_LOAD_DEMO": "true",
           "CHIROREF_LOG_LEVEL": "warning"}
    subprocess.run([sys.executable, "-m", "service.cli", "migrate"], cwd=tree, check=True,
                   env={**os.environ, **env}, capture_output=True)
    return env


def ensure_peer() -> str | None:
    """fhirstarter in its own venv (its pins differ from ours); None when it cannot be had."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "fhirstarter==4.2.0",
                            "uvicorn[standard]"], check=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"fhirstarter peer unavailable: {exc}")
            return None
    return str(python)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--smoke", action="store_true", help="small quick run (CI)")
    ap.add_argument("--count", type=int, default=None, help="requests per scenario")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--no-peer", action="store_true", help="skip fhirstarter")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="bound per scenario")
    args = ap.parse_args()
    count = args.count or (300 if args.smoke else 5000)
    conn, limit = args.connections, args.max_seconds
    print(f"intake bench: {count} requests per scenario, {conn} connections, one uvicorn worker")
    figures: dict[str, Any] = {"count": count, "connections": conn, "smoke": args.smoke}

    with uvicorn_server("ceiling_app:app", app_dir=ROOT / "bench",
                        ready_path="/docs") as port:
        ceiling = report("ceiling (bare FastAPI)", measure(
            port, "/fhir/ServiceRequest", plain_bodies, count, conn, limit))
        validated = report("  + fhir.resources, no store", measure(
            port, "/validated/ServiceRequest", plain_bodies, count, conn, limit))
        profiled = report("  + all chiroref checks, no store", measure(
            port, "/profiled/ServiceRequest", plain_bodies, count, conn, limit))

    peer = None
    if not args.no_peer and (python := ensure_peer()):
        with uvicorn_server("peer_fhirstarter_app:app", python=python, app_dir=ROOT / "bench",
                            env={"FHIR_SEQUENCE": "R4B"}, ready_path="/docs") as port:
            peer = report("fhirstarter 4.2 (dict)", measure(
                port, "/ServiceRequest", plain_bodies, count, conn, limit))

    with tempfile.TemporaryDirectory() as tmp:
        env = chiroref_env(f"sqlite+aiosqlite:///{tmp}/bench.db")
        with uvicorn_server("service.app:app_from_env", factory=True, env=env) as port:
            sqlite = report("chiroref POST, SQLite", measure(
                port, "/fhir/ServiceRequest", plain_bodies, count, conn, limit))

    env = chiroref_env(fresh_pg_url())
    with uvicorn_server("service.app:app_from_env", factory=True, env=env) as port:
        pg = report("chiroref POST, PostgreSQL", measure(
            port, "/fhir/ServiceRequest", plain_bodies, count, conn, limit, analyze_pg,
            with_postgresql=True))
        tx = report("chiroref transaction, PostgreSQL", measure(
            port, "/fhir", transaction_bodies, count, conn, limit, analyze_pg,
            with_postgresql=True), expected=200)

    # The same server with CHIROREF_STRUCTURE_FAST_PATH (off by default): what the lean
    # structural check in front of fhir.resources would buy (docs/performance.md).
    fast_env = {**chiroref_env(fresh_pg_url()), "CHIROREF_STRUCTURE_FAST_PATH": "true"}
    with uvicorn_server("service.app:app_from_env", factory=True, env=fast_env) as port:
        fast = report("  + structure fast path (opt-in)", measure(
            port, "/fhir/ServiceRequest", plain_bodies, count, conn, limit, analyze_pg,
            with_postgresql=True))

    figures |= {
        "ceiling_per_s": ceiling["per_s"],
        "sqlite_post_per_s": sqlite["per_s"],
        "postgresql_post_per_s": pg["per_s"],
        "transaction_per_s": tx["per_s"],
        "p50_ms": pg["p50_ms"],
        "p99_ms": pg["p99_ms"],
        "sqlite_p50_ms": sqlite["p50_ms"], "sqlite_p99_ms": sqlite["p99_ms"],
        "transaction_p50_ms": tx["p50_ms"], "transaction_p99_ms": tx["p99_ms"],
        "postgresql_post_ratio_to_ceiling": round(pg["per_s"] / ceiling["per_s"], 3),
        "validated_floor_per_s": validated["per_s"],
        "profiled_floor_per_s": profiled["per_s"],
        "postgresql_post_ratio_to_profiled_floor": round(pg["per_s"] / profiled["per_s"], 3),
        "profiled_floor_ratio_to_fhirstarter": (
            round(profiled["per_s"] / peer["per_s"], 2) if peer else None
        ),
        "fhirstarter_per_s": peer["per_s"] if peer else None,
        "postgresql_post_ratio_to_fhirstarter": (
            round(pg["per_s"] / peer["per_s"], 2) if peer else None
        ),
        # CPU per request (ms), the steadier figure on a shared machine: the server process;
        # for chiroref on PostgreSQL also the bench database's backends.
        "ceiling_server_cpu_ms": ceiling["server_cpu_ms"],
        "profiled_floor_server_cpu_ms": profiled["server_cpu_ms"],
        "fhirstarter_server_cpu_ms": peer["server_cpu_ms"] if peer else None,
        "postgresql_post_server_cpu_ms": pg["server_cpu_ms"],
        "postgresql_post_pg_cpu_ms": pg["postgresql_cpu_ms"],
        "transaction_server_cpu_ms": tx["server_cpu_ms"],
        "transaction_pg_cpu_ms": tx["postgresql_cpu_ms"],
        "fast_path_post_per_s": fast["per_s"],
        "fast_path_post_server_cpu_ms": fast["server_cpu_ms"],
        "fast_path_post_ratio_to_fhirstarter": (
            round(fast["per_s"] / peer["per_s"], 2) if peer else None
        ),
    }
    pg_cpu = pg["server_cpu_ms"] + pg["postgresql_cpu_ms"]
    figures["postgresql_post_cpu_ratio_to_fhirstarter"] = (
        round(peer["server_cpu_ms"] / pg_cpu, 2) if peer and pg_cpu else None
    )
    to_peer = figures["postgresql_post_ratio_to_fhirstarter"]
    print(f"PostgreSQL POST / ceiling = {figures['postgresql_post_ratio_to_ceiling']}"
          + (f"; / fhirstarter = {to_peer}" if peer else "")
          + f"; / checks-only floor = {figures['postgresql_post_ratio_to_profiled_floor']}")
    if peer:
        print(f"with the opt-in structure fast path: / fhirstarter = "
              f"{figures['fast_path_post_ratio_to_fhirstarter']}")
    if peer:
        print(f"checks-only floor (validation, nothing stored) / fhirstarter = "
              f"{figures['profiled_floor_ratio_to_fhirstarter']}")
        print(f"CPU per request: fhirstarter {peer['server_cpu_ms']:.2f} ms; chiroref POST "
              f"{pg['server_cpu_ms']:.2f} ms server + {pg['postgresql_cpu_ms']:.2f} ms "
              f"PostgreSQL -> {figures['postgresql_post_cpu_ratio_to_fhirstarter']}x "
              f"fhirstarter's creates per CPU-second")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
