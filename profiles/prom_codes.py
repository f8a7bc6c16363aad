"""The PROM instrument codes of the ChiroPromObservation profile and their value ranges.

One row per code of the chiroref `prom-instrument` CodeSystem: what the Observation's
valueQuantity.value may be. The build tool writes the CodeSystem and the per-code
invariants (`chiro-prom-<code>`) from this table, the validator's native checks walk it,
and questionnaire scoring names its Observations with it. Ranges are those of
profiles.prom (NNRR annual report 2024, shared/domain/001_*).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from profiles import canonical as c
from profiles.prom import HSCL10_CUTOFF

__all__ = ["BY_CODE", "HSCL10", "HSCL10_CUTOFF_VALUE", "INSTRUMENTS", "Instrument",
           "instrument_code", "is_high", "value_in_range"]


@dataclass(frozen=True, slots=True)
class Instrument:
    code: str
    display: str
    low: float
    high: float
    integer: bool  # only whole numbers (NRS, PGIC, FABQ, EQ-VAS)
    definition: str

    @property
    def invariant_key(self) -> str:
        return f"chiro-prom-{self.code}"

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        return f"{self.display} is {kind} from {self.low:g} to {self.high:g}"


INSTRUMENTS: Final[tuple[Instrument, ...]] = (
    Instrument("odi", "Oswestry Disability Index", 0, 100, False,
               "ODI v2.1a, 0 (no disability) - 100; one section may be missing."),
    Instrument("ndi", "Neck Disability Index", 0, 100, False,
               "NDI, 0 (no disability) - 100; up to 2 missing items mean-substituted."),
    Instrument("nrs-pain-rest", "Pain at rest (NRS)", 0, 10, True,
               "Numeric rating scale for pain at rest, 0 (none) - 10 (worst imaginable)."),
    Instrument("nrs-pain-activity", "Pain in activity (NRS)", 0, 10, True,
               "Numeric rating scale for pain in activity, 0 (none) - 10 (worst imaginable)."),
    Instrument("eq5d5l-index", "EQ-5D-5L index", -1, 1, False,
               "EQ-5D-5L health state index from a national value set (named in method); "
               "1 = full health. Lower bound -1 is a plausibility bound (Danish minimum "
               "-0.758)."),
    Instrument("eq-vas", "EQ VAS", 0, 100, True,
               "EQ visual analogue scale, 0 (worst) - 100 (best imaginable health)."),
    Instrument("hscl10-mean", "HSCL-10 mean", 1, 4, False,
               "Hopkins Symptom Checklist-10 mean item score, 1-4; above 1.85 is flagged "
               "high (interpretation H)."),
    Instrument("fabq-physical", "FABQ physical activity subscale", 0, 24, True,
               "Fear-Avoidance Beliefs Questionnaire, physical activity (items 2-5), 0-24."),
    Instrument("fabq-work", "FABQ work subscale", 0, 42, True,
               "Fear-Avoidance Beliefs Questionnaire, work (items 6, 7, 9-12, 15), 0-42."),
    Instrument("pgic", "Patient Global Impression of Change", 1, 7, True,
               "PGIC on the NNRR 7-point scale, 1 (completely recovered) - 7 (worse than "
               "ever)."),
)
BY_CODE: Final[Mapping[str, Instrument]] = {i.code: i for i in INSTRUMENTS}
HSCL10: Final = BY_CODE["hscl10-mean"]
HSCL10_CUTOFF_VALUE: Final = float(HSCL10_CUTOFF)  # 1.85, strictly above is high


def instrument_code(observation: Mapping[str, Any]) -> str | None:
    """The prom-instrument code of an Observation's `code`, if it has one."""
    code = observation.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict) and coding.get("system") == c.PROM_INSTRUMENT:
            found = coding.get("code")
            return found if isinstance(found, str) else None
    return None


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def value_in_range(instrument: Instrument, value: Any) -> bool:
    """Is `value` (valueQuantity.value) allowed for the instrument? Non-numbers: True (the
    structural check reports them)."""
    if not _number(value):
        return True
    whole = not instrument.integer or float(value).is_integer()
    return whole and instrument.low <= value <= instrument.high


def is_high(value: Any) -> bool | None:
    """HSCL-10 mean above the cut-off; None when there is no number."""
    return value > HSCL10_CUTOFF_VALUE if _number(value) else None
