"""Choosing a clinic for a referral that names none, or after a rejection. Pure.

Rules, in order: a candidate must take part in the scheme and must not have rejected this
referral already (nor be farther than ``max_km`` when one is given), and it must be in the
patient's country when that is known (a referral never crosses a national border: the
clinic's Location country must equal it); the rest are ranked
nearest first (great-circle km from the patient's postal-code position, compared at
0.1 km), then fewest open Tasks, then clinic reference (so equal input gives equal output).
When the patient's position is unknown, distance is left out and load decides. The result
carries a human-readable explanation for the GP and the audit trail.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from profiles import canonical
from service.workflow.postcodes import Position

__all__ = [
    "Candidate",
    "Excluded",
    "Ranked",
    "RoutingResult",
    "country_code",
    "haversine_km",
    "patient_country",
    "rank_clinics",
]

EARTH_RADIUS_KM: Final = 6371.0088  # mean Earth radius (IUGG)
KM_DECIMALS: Final = 1  # distances are compared and shown at 0.1 km

NOT_IN_SCHEME: Final = "does not take part in the scheme"
ALREADY_REJECTED: Final = "already rejected this referral"
TOO_FAR: Final = "farther than {max_km:g} km"
OTHER_COUNTRY: Final = "in {clinic} and the patient in {patient}"


@dataclass(frozen=True, slots=True)
class Candidate:
    clinic_ref: str  # "Organization/<id>"
    in_scheme: bool
    position: Position
    open_tasks: int
    country: str | None = None  # ISO 3166 alpha-2 of the clinic's Location, upper case


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


# Names a Location or Patient address may give for the two countries of the scheme.
COUNTRY_NAMES: Final = {
    "NO": "NO", "NOR": "NO", "NORWAY": "NO", "NORGE": "NO", "NOREG": "NO",
    "DK": "DK", "DNK": "DK", "DENMARK": "DK", "DANMARK": "DK",
}
# National person identifiers -> country (NO: every urn:oid:2.16.578.1.12.4.1.4.* system,
# fødselsnummer, D-nummer, ...; DK: the CPR number).
NO_PERSON_ARC: Final = "urn:oid:2.16.578.1.12.4.1.4."
IDENTIFIER_COUNTRIES: Final = {canonical.DK_CPR: "DK"}


def country_code(value: object) -> str | None:
    """Pure: an address country as ISO 3166 alpha-2 upper case ("no", "Norge" -> "NO");
    another two-letter code as given, upper case; None when empty or unreadable."""
    text = str(value or "").strip().upper()
    if text in COUNTRY_NAMES:
        return COUNTRY_NAMES[text]
    return text if len(text) == 2 and text.isalpha() else None


def patient_country(patient: Mapping[str, Any] | None) -> str | None:
    """Pure: Patient.address[0].country, else the country of its national identifier
    (urn:oid:2.16.578.1.12.4.1.4.* NO, urn:oid:1.2.208.176.1.2 DK), else None."""
    patient = patient or {}
    addresses = patient.get("address") or []
    first = addresses[0] if addresses and isinstance(addresses[0], dict) else {}
    found = country_code(first.get("country"))
    if found:
        return found
    for ident in patient.get("identifier") or []:
        system = str((ident or {}).get("system") or "")
        if system.startswith(NO_PERSON_ARC):
            return "NO"
        if system in IDENTIFIER_COUNTRIES:
            return IDENTIFIER_COUNTRIES[system]
    return None


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
    country: str | None = None,
) -> RoutingResult:
    """Rank the eligible candidates for one referral; see the module docstring.
    `country`: the patient's (None: unknown, no clinic is left out for its country)."""
    eligible: list[Ranked] = []
    excluded: list[Excluded] = []
    for cand in sorted(candidates, key=lambda c: c.clinic_ref):
        km = _km(cand, patient)
        reason = _exclusion(cand, km, rejected_by, max_km) or _abroad(cand, country)
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


def _abroad(cand: Candidate, country: str | None) -> str | None:
    if country is None or cand.country == country:
        return None
    return OTHER_COUNTRY.format(clinic=cand.country or "an unknown country", patient=country)


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
