"""What the alternating benches (bench/ab_intake.py, bench/peer_ratio.py) share: how many
rounds of how many requests (bounded in count and time), the warm-up, one round of plain
referral POSTs, and the alternating order that lets a noisy neighbour hit every server
alike."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Iterator, Mapping, Sequence

import intake
import uvloop
from loadgen import LoadResult, run_load

CONNECTIONS = 8


def add_round_options(ap: argparse.ArgumentParser, count_help: str) -> None:
    ap.add_argument("--smoke", action="store_true", help="small quick run")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--count", type=int, default=None, help=count_help)
    ap.add_argument("--max-seconds", type=float, default=120.0, help="bound per round")


def round_sizes(args: argparse.Namespace) -> tuple[int, int]:
    """(rounds, requests per round): 6 x 1,500 full, 2 x 100 smoke; at most 20 x 20,000."""
    rounds = min(args.rounds or (2 if args.smoke else 6), 20)
    count = min(args.count or (100 if args.smoke else 1500), 20_000)
    return rounds, count


def alternating(names: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, name): each name once per round, in reverse order every other round."""
    for n in range(rounds):
        for name in names if n % 2 == 0 else names[::-1]:
            yield n, name


def post_referrals(port: int, path: str, count: int, max_seconds: float,
                   tag: str | None = None) -> LoadResult:
    """`count` plain referral POSTs (each with its own identifier) to `path`; exits on any
    status but 200 and 201."""
    bodies = intake.plain_bodies(count, tag or uuid.uuid4().hex[:8])
    result = uvloop.run(run_load("127.0.0.1", port, intake.requests_for(path, bodies, port),
                                 CONNECTIONS, max_seconds))
    bad = {k: v for k, v in result.statuses.items() if k not in (200, 201)}
    if bad:
        raise SystemExit(f"{path} on port {port}: unexpected statuses {bad}")
    return result


def warm_up(ports: Mapping[str, int], paths: Mapping[str, str], count: int,
            max_seconds: float) -> None:
    """A few POSTs to each server before anything is measured."""
    for name, port in ports.items():
        post_referrals(port, paths[name], count, max_seconds, "warm" + uuid.uuid4().hex[:6])
