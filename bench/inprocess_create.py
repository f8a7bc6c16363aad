"""bench/inprocess_create.py: referral creates called straight into the ASGI app (no HTTP
server, no load generator) on PostgreSQL; CPU per create of this process.

For steady comparisons on a shared machine, run it under callgrind for two counts and
divide the difference of the instruction totals by the difference of the counts
(docs/performance.md, "How to rerun"):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/inprocess_create.py --count 50 --warm 30
    (the same with --count 250)

    python bench/inprocess_create.py            # full size (3,000 creates)
    python bench/inprocess_create.py --smoke    # small and quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("CHIROREF_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("CHIROREF_BENCH_INPROCESS_DB", "chiroref_inprocess")
HEADERS = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/fhir+json"),
           (b"accept", b"application/fhir+json"), (b"prefer", b"return=minimal")]


def bodies(n: int) -> list[bytes]:
    """`n` referral bodies, each with its own identifier: one serialisation and a text
    replace each, so that building them adds next to nothing to the instructions counted
    (a deepcopy and json.dumps per body cost ~100 us, ~12% of a create's count)."""
    base = json.loads((ROOT / "profiles/examples/ChiroAssessmentReferral-plain.json").read_text())
    base["identifier"][0]["value"] = "IDENTIFIER-PLACEHOLDER"
    template, tag = json.dumps(base).encode(), uuid.uuid4().hex[:8]
    return [template.replace(b"IDENTIFIER-PLACEHOLDER", f"inproc-{tag}-{i}".encode())
            for i in range(n)]


async def post(app: Any, body: bytes) -> int:
    """One `POST /fhir/ServiceRequest` as an ASGI call; the response status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/fhir/ServiceRequest", "raw_path": b"/fhir/ServiceRequest",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000), "state": {},
        "headers": [*HEADERS, (b"content-length", str(len(body)).encode())],
    }
    sent = False
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # no disconnect while the app runs
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


async def run(app: Any, requests: list[bytes], concurrency: int) -> list[int]:
    queue, statuses = list(requests), []

    async def worker() -> None:
        while queue:
            statuses.append(await post(app, queue.pop()))

    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return statuses


def fresh_database() -> str:
    for sql in (f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)", f"CREATE DATABASE {PG_DB}"):
        subprocess.run(["psql", PG_ADMIN, "-q", "-c", sql], check=True, capture_output=True)
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_DB}"
    subprocess.run([sys.executable, "-m", "service.cli", "migrate"], cwd=ROOT, check=True,
                   env={**os.environ, "CHIROREF_DATABASE_URL": url}, capture_output=True)
    return url


async def measure(count: int, warm: int, concurrency: int) -> dict[str, Any]:
    from sqlalchemy import text

    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings(database_url=fresh_database(), load_demo=True))
    async with app.router.lifespan_context(app):
        if set(await run(app, bodies(warm), concurrency)) != {201}:
            raise SystemExit("warm-up creates failed")
        async with app.state.store.engine.begin() as conn:  # as bench/intake.py does
            await conn.execute(text("ANALYZE"))
        requests = bodies(count)
        cpu, wall = time.process_time(), time.perf_counter()
        statuses = await run(app, requests, concurrency)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if set(statuses) != {201}:
        raise SystemExit(f"unexpected statuses {set(statuses)}")
    return {"count": count, "concurrency": concurrency,
            "cpu_ms_per_create": round(cpu * 1000 / count, 3),
            "creates_per_s": round(count / wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--smoke", action="store_true", help="small quick run")
    ap.add_argument("--count", type=int, default=None, help="measured creates")
    ap.add_argument("--warm", type=int, default=300, help="creates before measuring")
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    count = args.count or (100 if args.smoke else 3000)
    if count > 100_000:
        raise SystemExit("--count is capped at 100000")
    figures = uvloop.run(measure(count, min(args.warm, 30) if args.smoke else args.warm,
                                 args.concurrency))
    print(f"in-process creates: {figures['cpu_ms_per_create']} ms CPU per create, "
          f"{figures['creates_per_s']}/s at concurrency {args.concurrency}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
