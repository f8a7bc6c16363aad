"""Choosing a clinic for a referral that names none, or after a rejection. Pure.

Rules, in order: a candidate must take part in the scheme and must not have rejected this
referral already (nor be farther than ``max_km`` when one is given); the rest are ranked
nearest first (great-circle km from the patient's postal-code position, compared at
0.1 km), then fewest open Tasks, then clinic reference (so equal input gives equal output).
When the patient's position is unknown, distance is left out and load decides. The result
carries a human-readable explanation for the GP and the audit trail.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final

from service.workflow.postcodes import Position

__all__ = ["Candidate", "Excluded", "Ranked", "RoutingResult", "haversine_km", "rank_clinics"]

EARTH_RADIUS_KM: Final = 6371.0088  # mean Earth radius (IUGG)
KM_DECIMALS: Final = 1  # distances are compared and shown at 0.1 km

NOT_IN_SCHEME: Final = "does not take part in the scheme"
ALREADY_REJECTED: Final = "already rejected this referral"
TOO_FAR: Final = "farther than {max_km:g} km"


@dataclass(frozen=True, slots=True)
class Candidate:
    clinic_ref: str  # "Organization/<id>"
    in_scheme: bool
    position: Position
    open_tasks: int


@dataclass(frozen=True, slots=True)
class Ranked:
    clinic_ref: str
    km: float | None  # None when the patient's position is unknown
    open_tasks: int


@dataclass(frozen=True, slots=True)
class Excluded:
    clinic_ref: str
    reason: str


@dataclass(frozen=True, slots=True)
class RoutingResult:
    ranked: tuple[Ranked, ...]  # best first; empty when no clinic is left
    excluded: tuple[Excluded, ...]
    explanation: str

    @property
    def chosen(self) -> Ranked | None:
        return self.ranked[0] if self.ranked else None


def haversine_km(a: Position, b: Position) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def rank_clinics(
    candidates: Iterable[Candidate],
    patient: Position | None,
    rejected_by: Collection[str] = frozenset(),
    max_km: float | None = None,
) -> RoutingResult:
    """Rank the eligible candidates for one referral; see the module docstring."""
    eligible: list[Ranked] = []
    excluded: list[Excluded] = []
    for cand in sorted(candidates, key=lambda c: c.clinic_ref):
        km = _km(cand, patient)
        reason = _exclusion(cand, km, rejected_by, max_km)
        if reason:
            excluded.append(Excluded(cand.clinic_ref, reason))
        else:
            eligible.append(Ranked(cand.clinic_ref, km, cand.open_tasks))
    ranked = tuple(sorted(eligible, key=_rank_key))
    return RoutingResult(ranked, tuple(excluded), _explain(ranked, excluded, patient))


def _km(cand: Candidate, patient: Position | None) -> float | None:
    return None if patient is None else round(haversine_km(patient, cand.position), KM_DECIMALS)


def _exclusion(
    cand: Candidate, km: float | None, rejected_by: Collection[str], max_km: float | None
) -> str | None:
    if not cand.in_scheme:
        return NOT_IN_SCHEME
    if cand.clinic_ref in rejected_by:
        return ALREADY_REJECTED
    if max_km is not None and km is not None and km > max_km:
        return TOO_FAR.format(max_km=max_km)
    return None


def _rank_key(r: Ranked) -> tuple[float, int, str]:
    return (r.km if r.km is not None else 0.0, r.open_tasks, r.clinic_ref)


def _describe(r: Ranked) -> str:
    where = f"{r.km:.1f} km" if r.km is not None else "distance unknown"
    return f"{r.clinic_ref} ({where}, {r.open_tasks} open tasks)"


def _explain(ranked: tuple[Ranked, ...], excluded: list[Excluded], patient: Position | None) -> str:
    lines = []
    if patient is None:
        lines.append("Patient position unknown: ranked by open tasks only.")
    if ranked:
        lines.append(f"Chosen {_describe(ranked[0])}: nearest, then fewest open tasks.")
        lines += [f"{i}. {_describe(r)}" for i, r in enumerate(ranked, 1)]
    else:
        lines.append(f"No clinic left: {len(excluded)} candidates, none eligible.")
    lines += [f"Excluded {e.clinic_ref}: {e.reason}." for e in excluded]
    return "\n".join(lines)
