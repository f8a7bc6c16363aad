"""Invariants evaluated by Python instead of fhirpathpy, keyed by constraint key.

Each function says what the constraint's FHIRPath says (quoted in its docstring or in
the definition), for constraints fhirpathpy cannot run (hasValue(), %rootResource) and
for chiroref's own constraints on the create path. Signature: (element, root) -> ok.
Tests compare each chiroref one with fhirpathpy on the same inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final

from profiles import canonical as c
from profiles import prom_codes

Evaluator = Callable[[Any, dict[str, Any]], bool]


def _instant(text: str) -> datetime | str:
    return datetime.fromisoformat(text) if len(text) > 10 else text


def period_ordered(value: Any, root: dict[str, Any]) -> bool:
    """per-1: start <= end when both have a value (different precisions: no verdict)."""
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, str) and isinstance(end, str)):
        return True
    try:
        a, b = _instant(start), _instant(end)
    except ValueError:
        return True  # malformed dates are the structural check's to report
    if isinstance(a, str) or isinstance(b, str):
        return not (isinstance(a, str) and isinstance(b, str) and len(a) == len(b)) or a <= b
    try:
        return a <= b
    except TypeError:  # one with, one without a time zone
        return True


def local_reference_resolves(value: Any, root: dict[str, Any]) -> bool:
    """ref-1: a '#id' reference names a contained resource ('#' alone is the container:
    its substring(1) is empty, so the FHIRPath passes)."""
    ref = value.get("reference")
    if not isinstance(ref, str) or not ref.startswith("#") or ref == "#":
        return True
    return ref[1:] in {c.get("id") for c in root.get("contained", []) if isinstance(c, dict)}


def _contained(root: dict[str, Any]) -> list[dict[str, Any]]:
    items = root.get("contained")
    return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []


def contained_not_nested(value: Any, root: dict[str, Any]) -> bool:
    """dom-2: contained.contained.empty()"""
    return not any(x.get("contained") for x in _contained(value))


def _strings(node: Any) -> Iterator[str]:
    """Every string value under `node`."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for item in node.values():
            yield from _strings(item)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def contained_referenced(value: Any, root: dict[str, Any]) -> bool:
    """dom-3: each contained resource is referenced ('#id') from elsewhere in the
    resource (its own contained resources included), or refers to its container ('#').
    The FHIRPath reads references, canonicals, uris and urls among the descendants; here
    every string value counts (JSON carries no types: a free-text '#id' also would)."""
    contained = _contained(value)
    if not contained:
        return True
    cited = {s for s in _strings(value) if s.startswith("#")}
    return all(f"#{x.get('id')}" in cited or "#" in set(_strings(x)) for x in contained)


def _meta(resource: dict[str, Any]) -> dict[str, Any]:
    meta = resource.get("meta")
    return meta if isinstance(meta, dict) else {}


def contained_unversioned(value: Any, root: dict[str, Any]) -> bool:
    """dom-4: contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()"""
    keys = ("versionId", "_versionId", "lastUpdated", "_lastUpdated")
    return not any(k in _meta(x) for x in _contained(value) for k in keys)


def contained_unlabelled(value: Any, root: dict[str, Any]) -> bool:
    """dom-5: contained.meta.security.empty()"""
    return not any(_meta(x).get("security") for x in _contained(value))


def document_has_date(value: Any, root: dict[str, Any]) -> bool:
    """bdl-10: type = 'document' implies timestamp.hasValue()."""
    return value.get("type") != "document" or "timestamp" in value


def _systems(value: Any) -> list[Any]:
    ids = value.get("identifier") if isinstance(value, dict) else None
    return [i.get("system") for i in ids if isinstance(i, dict)] if isinstance(ids, list) else []


def patient_has_national_id(value: Any, root: dict[str, Any]) -> bool:
    """chiro-pat-1: identifier.where(system in <person id systems>).exists()"""
    return any(s in c.PERSON_ID_SYSTEMS for s in _systems(value))


def organization_has_national_id(value: Any, root: dict[str, Any]) -> bool:
    """chiro-org-1: identifier.where(system in <organisation id systems>).exists()"""
    return any(s in c.ORGANIZATION_ID_SYSTEMS for s in _systems(value))


def subject_identified(value: Any, root: dict[str, Any]) -> bool:
    """chiro-sr-1: subject.reference.exists() or subject.identifier.where(system in ...)"""
    subject = value.get("subject")
    if not isinstance(subject, dict):
        return True  # cardinality reports a missing subject
    ident = subject.get("identifier")
    by_id = isinstance(ident, dict) and ident.get("system") in c.PERSON_ID_SYSTEMS
    return "reference" in subject or by_id


def rejection_has_reason(value: Any, root: dict[str, Any]) -> bool:
    """chiro-task-1: status = 'rejected' implies statusReason has a rejection-reason code."""
    if value.get("status") != "rejected":
        return True
    reason = value.get("statusReason")
    codings = reason.get("coding", []) if isinstance(reason, dict) else []
    return any(isinstance(x, dict) and x.get("system") == c.REJECTION_REASON for x in codings)


def organization_named(value: Any, root: dict[str, Any]) -> bool:
    """org-1: (identifier.count() + name.count()) > 0"""
    return bool(value.get("identifier") or value.get("name"))


def triage_concluded(value: Any, root: dict[str, Any]) -> bool:
    """chiro-dr-1: exactly one conclusionCode carries a triage-category coding whose code is
    in the CodeSystem (conclusionCode.where(coding.where(system = T and (code = ...)))...)."""
    concepts = value.get("conclusionCode")
    found = 0
    for concept in concepts if isinstance(concepts, list) else []:
        codings = concept.get("coding", []) if isinstance(concept, dict) else []
        found += any(isinstance(x, dict) and x.get("system") == c.TRIAGE_CATEGORY
                     and x.get("code") in c.TRIAGE_CODES for x in codings)
    return found == 1


def _quantity_value(observation: Any) -> Any:
    quantity = observation.get("valueQuantity") if isinstance(observation, dict) else None
    return quantity.get("value") if isinstance(quantity, dict) else None


def prom_in_range(instrument: prom_codes.Instrument) -> Evaluator:
    """chiro-prom-<code>, on Observation.value[x]: %resource.code has <code> implies the
    value is in the instrument's range (and whole, where the instrument is)."""

    def evaluate(value: Any, root: dict[str, Any]) -> bool:
        if prom_codes.instrument_code(root) != instrument.code:
            return True
        return prom_codes.value_in_range(instrument, value.get("value"))

    return evaluate


def hscl_flagged(value: Any, root: dict[str, Any]) -> bool:
    """chiro-prom-hscl: an HSCL-10 mean carries interpretation H exactly when > 1.85."""
    if prom_codes.instrument_code(value) != prom_codes.HSCL10.code:
        return True
    high = prom_codes.is_high(_quantity_value(value))
    if high is None:
        return True
    interpretations = value.get("interpretation")
    flagged = any(
        isinstance(x, dict) and x.get("system") == c.INTERPRETATION and x.get("code") == "H"
        for concept in (interpretations if isinstance(interpretations, list) else [])
        if isinstance(concept, dict) for x in concept.get("coding", []))
    return flagged == high


def _code_codings(concept: Any) -> list[Any]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return codings if isinstance(codings, list) else []


def value_code_not_in_components(value: Any, root: dict[str, Any]) -> bool:
    """obs-7: value.empty() or component.code.where(coding.intersect(%resource.code.coding)
    .exists()).empty() (on the feedback path: 10 fhirpathpy calls per bundle saved)."""
    if not any(k.lstrip("_").startswith("value") for k in value):
        return True
    own = _code_codings(root.get("code"))
    components = value.get("component")
    return not any(x in own for comp in (components if isinstance(components, list) else [])
                   if isinstance(comp, dict) for x in _code_codings(comp.get("code")))


NATIVE: Final[Mapping[str, Evaluator]] = {
    "obs-7": value_code_not_in_components,
    "chiro-dr-1": triage_concluded,
    "chiro-prom-hscl": hscl_flagged,
    **{i.invariant_key: prom_in_range(i) for i in prom_codes.INSTRUMENTS},
    "org-1": organization_named,
    "per-1": period_ordered,
    "ref-1": local_reference_resolves,
    "bdl-10": document_has_date,
    "dom-2": contained_not_nested,
    "dom-3": contained_referenced,
    "dom-4": contained_unversioned,
    "dom-5": contained_unlabelled,
    "chiro-pat-1": patient_has_national_id,
    "chiro-org-1": organization_has_national_id,
    "chiro-sr-1": subject_identified,
    "chiro-task-1": rejection_has_reason,
}
