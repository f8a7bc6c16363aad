"""The options of the alternating benches (bench/ab_intake.py, bench/peer_ratio.py): how
many rounds of how many requests, bounded in count and time."""

from __future__ import annotations

import argparse


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
