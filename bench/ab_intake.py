"""bench/ab_intake.py: two source trees' servers measured at the same moment.

Starts chiroref from tree A and from tree B (each on its own PostgreSQL database, demo
directory loaded, uvicorn as in bench/intake.py) and alternates plain referral POSTs
between them, A-B then B-A, so that a noisy neighbour hits both alike. Prints each round
and the medians: creates per second, server CPU and PostgreSQL backend CPU per create. On
this shared box that is the figure to trust for "did this change help"; full runs of
bench/intake.py an hour apart differ by 2x.

    git worktree add /tmp/before <rev>
    python bench/ab_intake.py /tmp/before .            # 6 rounds of 1,500 per side
    python bench/ab_intake.py /tmp/before . --smoke    # small and quick
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import intake
from cpu import cpu_seconds, pg_backend_pids
from rounds import add_round_options, alternating, post_referrals, round_sizes, warm_up
from servers import PIDS, uvicorn_server

PATH = "/fhir/ServiceRequest"


def one_round(port: int, db: str, count: int, max_seconds: float) -> tuple[float, float, float]:
    """(creates per second, server CPU ms per create, PostgreSQL CPU ms per create)."""
    backends = pg_backend_pids(intake.PG_ADMIN, db)
    server0, pg0 = cpu_seconds([PIDS[port]]), cpu_seconds(backends)
    result = post_referrals(port, PATH, count, max_seconds)
    sent = max(result.sent, 1)
    server = (cpu_seconds([PIDS[port]]) - server0) * 1000 / sent
    pg = (cpu_seconds(backends) - pg0) * 1000 / sent
    return result.summary()["per_s"], server, pg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("tree_a", type=Path, help="source tree A (e.g. a git worktree)")
    ap.add_argument("tree_b", type=Path, help="source tree B")
    add_round_options(ap, "creates per side per round")
    args = ap.parse_args()
    rounds, count = round_sizes(args)
    trees = {"A": args.tree_a.resolve(), "B": args.tree_b.resolve()}
    figures: dict[str, list[tuple[float, float, float]]] = {"A": [], "B": []}
    with ExitStack() as stack:
        ports = {}
        for side, tree in trees.items():
            db = f"chiroref_ab_{side.lower()}"
            env = intake.chiroref_env(intake.fresh_pg_url(db), tree)
            ports[side] = stack.enter_context(uvicorn_server(
                "service.app:app_from_env", factory=True, app_dir=tree, env=env))
        warm_up(ports, dict.fromkeys(ports, PATH), max(20, count // 3), args.max_seconds)
        for side in ports:  # planner statistics, as bench/intake.py takes them
            intake.analyze_pg(f"chiroref_ab_{side.lower()}")
        for n, side in alternating(list(ports), rounds):
            rate, server, pg = one_round(ports[side], f"chiroref_ab_{side.lower()}", count,
                                         args.max_seconds)
            figures[side].append((rate, server, pg))
            print(f"round {n} {side}: {rate:7.1f}/s  server {server:.3f} ms  "
                  f"postgresql {pg:.3f} ms", flush=True)
    medians = {side: [statistics.median(f[i] for f in rows) for i in range(3)]
               for side, rows in figures.items()}
    for side, (rate, server, pg) in medians.items():
        print(f"{side} median: {rate:.1f}/s  server {server:.3f} ms  postgresql {pg:.3f} ms"
              f"  ({trees[side]})")
    a, b = medians["A"], medians["B"]
    print(json.dumps({"rounds": rounds, "count": count, "a_per_s": round(a[0], 1),
                      "b_per_s": round(b[0], 1), "rate_ratio_b_to_a": round(b[0] / a[0], 3),
                      "a_server_cpu_ms": round(a[1], 3), "b_server_cpu_ms": round(b[1], 3),
                      "server_cpu_ratio_b_to_a": round(b[1] / a[1], 3),
                      "a_pg_cpu_ms": round(a[2], 3), "b_pg_cpu_ms": round(b[2], 3)}))


if __name__ == "__main__":
    main()
