"""bench/peer_ratio.py: chiroref's plain POST against fhirstarter, alternated in rounds.

The ratio DESIGN.md targets (chiroref creates/s over fhirstarter's, same run) moves by
25% between full runs of bench/intake.py because the peer itself does. Here fhirstarter,
chiroref (default) and chiroref with the opt-in structure fast path serve side by side and
take turns, round after round, so that the box's moods hit all three alike; it prints each
round and the median ratios.

    python bench/peer_ratio.py            # 6 rounds of 1,500 requests per server
    python bench/peer_ratio.py --smoke    # small and quick
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
from rounds import add_round_options, alternating, post_referrals, round_sizes, warm_up
from servers import ROOT, uvicorn_server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_round_options(ap, "requests per server per round")
    args = ap.parse_args()
    rounds, count = round_sizes(args)
    python = intake.ensure_peer()
    if python is None:
        raise SystemExit("fhirstarter is not available; nothing to compare against")
    rates: dict[str, list[float]] = {"fhirstarter": [], "chiroref": [], "fast path": []}
    with ExitStack() as stack:
        ports = {
            "fhirstarter": stack.enter_context(uvicorn_server(
                "peer_fhirstarter_app:app", python=python, app_dir=ROOT / "bench",
                env={"FHIR_SEQUENCE": "R4B"}, ready_path="/docs")),
            "chiroref": stack.enter_context(uvicorn_server(
                "service.app:app_from_env", factory=True,
                env=intake.chiroref_env(intake.fresh_pg_url()))),
        }
        # a second database for the fast-path server (bench/intake.py's is taken above)
        fast_db = "chiroref_bench_fast"
        fast_env = intake.chiroref_env(intake.fresh_pg_url(fast_db))
        ports["fast path"] = stack.enter_context(uvicorn_server(
            "service.app:app_from_env", factory=True,
            env={**fast_env, "CHIROREF_STRUCTURE_FAST_PATH": "true"}))
        paths = {"fhirstarter": "/ServiceRequest", "chiroref": "/fhir/ServiceRequest",
                 "fast path": "/fhir/ServiceRequest"}
        warm_up(ports, paths, max(20, count // 5), args.max_seconds)
        intake.analyze_pg()  # planner statistics, as bench/intake.py takes them
        intake.analyze_pg(fast_db)
        for n, name in alternating(list(ports), rounds):
            result = post_referrals(ports[name], paths[name], count, args.max_seconds)
            rates[name].append(result.summary()["per_s"])
            print(f"round {n} {name:12s} {rates[name][-1]:8.1f}/s", flush=True)
    median = {k: statistics.median(v) for k, v in rates.items()}
    ratios = {k: round(median[k] / median["fhirstarter"], 2) for k in ("chiroref", "fast path")}
    per_round = [round(c / f, 2) for c, f in zip(rates["chiroref"], rates["fhirstarter"],
                                                 strict=True)]
    print(f"medians: fhirstarter {median['fhirstarter']:.1f}/s, chiroref "
          f"{median['chiroref']:.1f}/s ({ratios['chiroref']}x), with the fast path "
          f"{median['fast path']:.1f}/s ({ratios['fast path']}x)")
    print(json.dumps({"rounds": rounds, "count": count,
                      "fhirstarter_per_s": round(median["fhirstarter"], 1),
                      "chiroref_per_s": round(median["chiroref"], 1),
                      "fast_path_per_s": round(median["fast path"], 1),
                      "chiroref_ratio": ratios["chiroref"],
                      "fast_path_ratio": ratios["fast path"],
                      "chiroref_ratio_per_round": per_round}))


if __name__ == "__main__":
    main()
