"""The imaging-indication rule: lumbar-spine imaging needs a guideline indication.

Sundhedsstyrelsen's box "Billeddiagnostisk udredning" (shared/domain/003_*) lists when
imaging of the low back is indicated (`profiles.imaging.INDICATIONS`). A recommendation
(CarePlan.activity.detail) or a request (ServiceRequest) for lumbar-spine imaging
without one of them in `reasonCode` is accepted, but flagged: a warning Issue, code
`business-rule`, at the item's `reasonCode`. Never an error. Pure.

The validator runs it as the native check of constraint `chiro-cp-1`
(AssessmentRecommendation, on CarePlan.activity.detail); `lacks_indication` is for stats.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from profiles import canonical as c
from profiles.codings import codings
from profiles.imaging import INDICATION_CODES, LUMBAR_PROCEDURES, LUMBAR_SITE, MODALITIES
from profiles.issues import Issue
from profiles.rules import Context

__all__ = ["IndicationCheck", "has_indication", "indication_issues", "is_lumbar_imaging",
           "item_lacks_indication", "lacks_indication"]

MESSAGE: Final = (
    "lumbar spine imaging without a guideline indication: reasonCode names none of the "
    f"imaging indications ({c.IMAGING_INDICATION_VS}: suspected non-MSK disease, nerve root "
    "involvement without improvement after 4-8 weeks, progressive neurological deficit, new "
    "weakness grade <= 3, spinal stenosis without improvement, inflammatory arthritis, "
    "significant scoliosis, new vertebral collapse, trauma). Accepted, but flagged and "
    "counted (Sundhedsstyrelsen, 'Billeddiagnostisk udredning')"
)
_SNOMED_MODALITIES: Final = frozenset(code for code, _d in MODALITIES.values())


def _has(concepts: Any, system: str, codes: frozenset[str]) -> bool:
    """A coding of `system` with one of `codes` (a code that is not a string is none of
    them: the structural check reports it)."""
    for x in codings(concepts):
        code = x.get("code")
        if x.get("system") == system and isinstance(code, str) and code in codes:
            return True
    return False


def is_lumbar_imaging(item: Mapping[str, Any]) -> bool:
    """`item` (an activity detail or a ServiceRequest) asks for imaging of the lumbar spine:
    a lumbar imaging-procedure code, or an imaging modality with a lumbar bodySite."""
    code = item.get("code")
    if _has(code, c.IMAGING_PROCEDURE, LUMBAR_PROCEDURES):
        return True
    imaging = _has(code, c.SNOMED, _SNOMED_MODALITIES) or any(
        x.get("system") == c.IMAGING_PROCEDURE for x in codings(code))
    return imaging and _has(item.get("bodySite"), c.SNOMED, frozenset({LUMBAR_SITE}))


def has_indication(item: Mapping[str, Any]) -> bool:
    return _has(item.get("reasonCode"), c.IMAGING_INDICATION, INDICATION_CODES)


def item_lacks_indication(item: Mapping[str, Any]) -> bool:
    return is_lumbar_imaging(item) and not has_indication(item)


def _items(resource: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(FHIRPath suffix, item) of each imaging recommendation or request in `resource`."""
    if resource.get("resourceType") != "CarePlan":
        yield "", resource
        return
    activities = resource.get("activity")
    for i, activity in enumerate(activities if isinstance(activities, list) else []):
        detail = activity.get("detail") if isinstance(activity, dict) else None
        if isinstance(detail, dict):
            yield f".activity[{i}].detail", detail


def indication_issues(resource: Mapping[str, Any], root: str | None = None) -> list[Issue]:
    """One warning per lumbar imaging item without an indication. `root`: the expression
    of the resource (default its type; `Bundle.entry[2].resource` inside a Bundle)."""
    at = root or str(resource.get("resourceType"))
    return [Issue("warning", "business-rule", f"{at}{suffix}.reasonCode", MESSAGE)
            for suffix, item in _items(resource) if item_lacks_indication(item)]


def lacks_indication(resource: Mapping[str, Any]) -> bool:
    """Does a CarePlan (any activity) or a ServiceRequest hold lumbar imaging without a
    guideline indication? (For the quality indicators.)"""
    return any(item_lacks_indication(item) for _s, item in _items(resource))


@dataclass(frozen=True, slots=True)
class IndicationCheck:
    """The validator's check for constraint `chiro-cp-1` on an activity detail."""

    key: str
    source: str

    def check(self, value: Any, expr: str, ctx: Context) -> None:
        if isinstance(value, dict) and item_lacks_indication(value):
            ctx.out.append(Issue("warning", "business-rule", f"{expr}.reasonCode",
                                 f"{self.key}: {MESSAGE}"))
