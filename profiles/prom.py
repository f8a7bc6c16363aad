"""Scoring of the patient-reported outcome measures (PROMs) in the assessment feedback.

The instruments and their rules follow the Norwegian neck and back registry (NNRR) annual
report 2024 (shared/domain/001_*, section 3.2.1 "PROM" and table 2), which is what the
registry-comparable Observations must match. Every number (ranges, subscale items,
cut-offs, missing-item rules, value-set weights) is data at the top of this module; the
functions below only walk it. Pure: no I/O, no clock.

Each scorer takes the answers in item order (``None`` = not answered) and returns a frozen
`Score`; invalid input raises `ScoringError` (a `ValueError`) with a message fit for an
OperationOutcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

__all__ = [
    "EQ5D5L_VALUE_SETS",
    "Eq5dIndex",
    "Score",
    "ScoringError",
    "eq5d5l_index",
    "eq_vas",
    "fabq_physical",
    "fabq_work",
    "hscl10",
    "ndi",
    "nrs_pain",
    "odi",
    "pgic",
]

Answer = int | None
Bands = tuple[tuple[int, str], ...]  # (inclusive lower bound, label), ascending


@dataclass(frozen=True, slots=True)
class Scale:
    """How one instrument's items are answered and how many may be missing."""

    name: str
    items: int
    low: int
    high: int
    max_missing: int = 0


# --- instrument definitions -----------------------------------------------------------

# ODI v2.1a: 10 sections scored 0-5; score = sum / (5 * sections answered) * 100.
# Rule (Fairbank & Pynsent, Spine 2000;25(22):2940-52): "if one section is missed ... the
# score is calculated [over the sections answered]", e.g. 9 sections -> divide by 45.
# We accept at most ONE missing section (the published worked rule) and refuse more.
ODI: Final = Scale("ODI", items=10, low=0, high=5, max_missing=1)

# NDI (Vernon & Mior 1991; Norwegian version Johansen et al. 2014): 10 items 0-5, reported
# 0-100. NNRR: "Skåres fra 0 poeng ... til 100 poeng ... Korrigeres med mean substitution
# for inntil 2 missing."
NDI: Final = Scale("NDI", items=10, low=0, high=5, max_missing=2)

# NRS pain at rest / in activity: "Måles fra 0 (ingen smerter) til 10 (verst tenkelig)".
NRS: Final = Scale("NRS", items=1, low=0, high=10)

# HSCL-10: 10 items 1-4, mean. NNRR: "Korrigeres med mean substitution for inntil 2
# missing. Verdi over 1,85 indikerer at videre utredning/behandling bør vurderes."
HSCL10: Final = Scale("HSCL-10", items=10, low=1, high=4, max_missing=2)
HSCL10_CUTOFF: Final = Fraction(185, 100)  # flagged when the mean is strictly above

# FABQ (Waddell et al. 1993; Norwegian version Grotle et al. 2006), items scored 0-6.
# NNRR asks 11 of the 16 items: the two subscales below (4 + 7 items).
FABQ_ITEM: Final = Scale("FABQ", items=16, low=0, high=6)
FABQ_PHYSICAL_ITEMS: Final = (2, 3, 4, 5)  # 0-24
FABQ_WORK_ITEMS: Final = (6, 7, 9, 10, 11, 12, 15)  # 0-42
# NNRR table 2 note: "FABQ- Fysisk aktivitet (<14 ubetydelig, 14 -16 moderat, 17 høy).
# FABQ- Arbeid (<20 ubetydelig, 20-24 moderat, 25 høy)."  (read as 17+ and 25+ high)
FABQ_PHYSICAL_BANDS: Final[Bands] = ((0, "negligible"), (14, "moderate"), (17, "high"))
FABQ_WORK_BANDS: Final[Bands] = ((0, "negligible"), (20, "moderate"), (25, "high"))

# EQ-VAS 0-100. NNRR table 2 note: "100-90 % god helse, 80-89 lett nedsatt, 60-79 moderat
# nedsatt, <60 betydelig nedsatt helse" (89.5 cannot occur: the VAS is recorded as an int).
EQ_VAS: Final = Scale("EQ-VAS", items=1, low=0, high=100)
EQ_VAS_BANDS: Final[Bands] = (
    (0, "considerably reduced"),
    (60, "moderately reduced"),
    (80, "slightly reduced"),
    (90, "good"),
)

# PGIC, the NNRR's 7-level scale: "Graderes på 7 punkts skala fra «helt bra» til «verre enn
# noen gang før»". 1 = best. (Other PGIC versions run the other way: map on import.)
PGIC: Final = Scale("PGIC", items=1, low=1, high=7)
PGIC_LABELS: Final[Mapping[int, tuple[str, str]]] = {
    1: ("Helt bra", "Completely recovered"),
    2: ("Mye bedre", "Much better"),
    3: ("Litt bedre", "Slightly better"),
    4: ("Ingen forandring", "No change"),
    5: ("Litt verre", "Slightly worse"),
    6: ("Mye verre", "Much worse"),
    7: ("Verre enn noen gang", "Worse than ever"),
}

# EQ-5D-5L: five dimensions (MO, SC, UA, PD, AD), levels 1-5; no item may be missing
# (NNRR: "Dersom en eller flere items er ikke-utfylt beregnes ikke score").
EQ5D5L_DIMENSION: Final = Scale("EQ-5D-5L", items=5, low=1, high=5)
EQ5D5L_DIMENSIONS: Final = ("MO", "SC", "UA", "PD", "AD")

# Danish EQ-5D-5L value set: Jensen CE, Sørensen SS, Gudex C, Jensen MB, Pedersen KM,
# Ehlers LH. The Danish EQ-5D-5L Value Set: A Hybrid Model Using cTTO and DCE Data.
# Appl Health Econ Health Policy 2021;19(4):579-591. doi:10.1007/s40258-021-00639-3.
# Weights as published by the authors' centre (Aalborg University, DACS, "The Danish
# EQ-5D-5L value set", table 1) and identical to the Denmark column of the eq5d R package
# (data-raw/VT.csv). Index = 1 - sum of the decrements of the levels above 1.
# Range: 1 (11111) to -0.758 (55555).
EQ5D5L_DK: Final[Mapping[str, tuple[float, float, float, float]]] = {
    # decrements for levels 2, 3, 4, 5
    "MO": (0.041, 0.054, 0.157, 0.220),
    "SC": (0.035, 0.050, 0.144, 0.209),
    "UA": (0.033, 0.040, 0.139, 0.174),
    "PD": (0.048, 0.094, 0.381, 0.537),
    "AD": (0.072, 0.191, 0.430, 0.618),
}
EQ5D5L_VALUE_SETS: Final[Mapping[str, Mapping[str, tuple[float, float, float, float]]]] = {
    "DK": EQ5D5L_DK,
}


# --- results and errors ---------------------------------------------------------------


class ScoringError(ValueError):
    """The answers cannot be scored (out of range, wrong count, too many missing)."""


@dataclass(frozen=True, slots=True)
class Score:
    instrument: str
    value: float
    items_used: int  # answered items that went into the score
    substituted: int = 0  # missing items replaced (mean substitution) or skipped (ODI)
    band: str | None = None  # interpretation label, where the source defines one
    flagged: bool = False  # above a clinical cut-off (HSCL-10 > 1.85)


@dataclass(frozen=True, slots=True)
class Eq5dIndex:
    value: float
    state: str  # the five levels as a health-state code, e.g. "11123"
    value_set: str  # key into EQ5D5L_VALUE_SETS


# --- helpers ----------------------------------------------------------------------------


def _check_item(scale: Scale, position: int, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScoringError(f"{scale.name} item {position}: expected an integer, got {value!r}")
    if not scale.low <= value <= scale.high:
        raise ScoringError(
            f"{scale.name} item {position}: {value} is outside {scale.low}-{scale.high}"
        )
    return value


def _answered(scale: Scale, answers: Sequence[Answer]) -> list[int]:
    """The answered items, checked; refuses a wrong count or too many missing."""
    if len(answers) != scale.items:
        raise ScoringError(f"{scale.name}: expected {scale.items} items, got {len(answers)}")
    given = [_check_item(scale, i, a) for i, a in enumerate(answers, 1) if a is not None]
    missing = scale.items - len(given)
    if missing > scale.max_missing:
        raise ScoringError(
            f"{scale.name}: {missing} items missing; at most {scale.max_missing} allowed"
        )
    return given


def _band(bands: Bands, value: float) -> str:
    return [label for low, label in bands if value >= low][-1]


def _single(scale: Scale, value: int) -> int:
    return _check_item(scale, 1, value)


# --- scorers ----------------------------------------------------------------------------


def _percent_of_max(scale: Scale, answers: Sequence[Answer]) -> Score:
    """Sum of the answered items over their maximum, as 0-100. Dividing by the answered
    items only is the same as giving each missing item the mean of the answered ones."""
    given = _answered(scale, answers)
    value = sum(given) / (scale.high * len(given)) * 100
    return Score(scale.name, value, len(given), scale.items - len(given))


def odi(sections: Sequence[Answer]) -> Score:
    """Oswestry Disability Index v2.1a, 0-100 (0 = no disability); one section may be
    missing (then the divisor is 45)."""
    return _percent_of_max(ODI, sections)


def ndi(items: Sequence[Answer]) -> Score:
    """Neck Disability Index, 0-100 (0 = no disability); up to 2 missing items take the
    mean of the answered ones (NNRR)."""
    return _percent_of_max(NDI, items)


def nrs_pain(value: int) -> Score:
    """Numeric rating scale for pain (at rest or in activity), 0-10."""
    return Score(NRS.name, float(_single(NRS, value)), 1)


def hscl10(items: Sequence[Answer]) -> Score:
    """Hopkins Symptom Checklist-10: mean of the items (1-4), flagged when above 1.85.
    Up to 2 missing items take the mean of the answered ones (mean unchanged)."""
    given = _answered(HSCL10, items)
    mean = Fraction(sum(given), len(given))
    missing = HSCL10.items - len(given)
    return Score(HSCL10.name, float(mean), len(given), missing, flagged=mean > HSCL10_CUTOFF)


def _fabq_subscale(
    name: str, answers: Mapping[int, Answer], items: tuple[int, ...], bands: Bands
) -> Score:
    absent = [n for n in items if answers.get(n) is None]
    if absent:
        raise ScoringError(f"{name}: items {absent} not answered; all of {list(items)} needed")
    total = sum(_check_item(FABQ_ITEM, n, answers[n]) for n in items)
    return Score(name, float(total), len(items), band=_band(bands, total))


def fabq_physical(answers: Mapping[int, Answer]) -> Score:
    """FABQ physical activity subscale: items 2-5 (0-24), banded as the NNRR does.
    `answers` maps the FABQ item number (1-16) to its answer (0-6)."""
    return _fabq_subscale("FABQ-PA", answers, FABQ_PHYSICAL_ITEMS, FABQ_PHYSICAL_BANDS)


def fabq_work(answers: Mapping[int, Answer]) -> Score:
    """FABQ work subscale: items 6, 7, 9, 10, 11, 12, 15 (0-42), banded as the NNRR does."""
    return _fabq_subscale("FABQ-W", answers, FABQ_WORK_ITEMS, FABQ_WORK_BANDS)


def eq_vas(value: int) -> Score:
    """EQ visual analogue scale, 0 (worst) - 100 (best imaginable health)."""
    checked = _single(EQ_VAS, value)
    return Score(EQ_VAS.name, float(checked), 1, band=_band(EQ_VAS_BANDS, checked))


def pgic(value: int) -> Score:
    """Patient Global Impression of Change on the NNRR scale, 1 (helt bra) - 7; the band
    is the English label (`PGIC_LABELS` has the Norwegian one too)."""
    checked = _single(PGIC, value)
    return Score(PGIC.name, float(checked), 1, band=PGIC_LABELS[checked][1])


def eq5d5l_index(levels: Sequence[Answer], value_set: str = "DK") -> Eq5dIndex:
    """EQ-5D-5L index from the five levels (MO, SC, UA, PD, AD) with a national value set.
    Only additive value sets with cited weights are offered (see EQ5D5L_VALUE_SETS)."""
    weights = EQ5D5L_VALUE_SETS.get(value_set)
    if weights is None:
        known = ", ".join(sorted(EQ5D5L_VALUE_SETS))
        raise ScoringError(f"EQ-5D-5L: no value set {value_set!r}; available: {known}")
    given = _answered(EQ5D5L_DIMENSION, levels)
    decrement = sum(
        weights[dim][level - 2]
        for dim, level in zip(EQ5D5L_DIMENSIONS, given, strict=True)
        if level > 1
    )
    return Eq5dIndex(round(1 - decrement, 3), "".join(map(str, given)), value_set)
