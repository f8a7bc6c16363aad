"""Native evaluators say what their FHIRPath says: both run on the same inputs."""

from __future__ import annotations

from typing import Any

import fhirpathpy
import pytest

from profiles import canonical as c
from profiles.invariants import by_shape
from profiles.native import NATIVE
from profiles.package import package


def chiro_constraints() -> dict[str, str]:
    out = {}
    for r in package().resources.values():
        for e in r.get("differential", {}).get("element", []):
            for k in e.get("constraint", []):
                out[k["key"]] = k["expression"]
    return out


EXPRESSIONS = chiro_constraints()
CASES: list[tuple[str, dict[str, Any]]] = [
    ("chiro-pat-1", {"identifier": [{"system": c.NO_FNR, "value": "1"}]}),
    ("chiro-pat-1", {"identifier": [{"system": "urn:x", "value": "1"}]}),
    ("chiro-pat-1", {}),
    ("chiro-org-1", {"identifier": [{"system": c.DK_SOR, "value": "1"}]}),
    ("chiro-org-1", {"identifier": [{"system": c.NO_FNR, "value": "1"}]}),
    ("chiro-sr-1", {"subject": {"reference": "Patient/1"}}),
    ("chiro-sr-1", {"subject": {"identifier": {"system": c.DK_CPR, "value": "1"}}}),
    ("chiro-sr-1", {"subject": {"identifier": {"system": "urn:x", "value": "1"}}}),
    ("chiro-sr-1", {"subject": {"display": "x"}}),
    ("chiro-task-1", {"status": "requested"}),
    ("chiro-task-1", {"status": "rejected"}),
    ("chiro-task-1", {"status": "rejected", "statusReason": {"coding": [
        {"system": c.REJECTION_REASON, "code": "no-capacity"}]}}),
    ("chiro-task-1", {"status": "rejected", "statusReason": {"text": "busy"}}),
]


@pytest.mark.parametrize(("key", "value"), CASES)
def test_native_matches_fhirpath(key: str, value: dict[str, Any]) -> None:
    result = fhirpathpy.evaluate(value, EXPRESSIONS[key])
    assert NATIVE[key](value, value) == (result in ([], [True]))


@pytest.mark.parametrize(("value", "ok"), [
    ({"start": "2025-01-01", "end": "2025-01-02"}, True),
    ({"start": "2025-01-02", "end": "2025-01-01"}, False),
    ({"start": "2025-01-02T10:00:00+01:00", "end": "2025-01-02T09:30:00Z"}, True),
    ({"start": "2025-01-02T10:00:00Z", "end": "2025-01-02T09:30:00Z"}, False),
    ({"start": "2025-01", "end": "2024-12-31"}, True),  # precisions differ: no verdict
    ({"start": "2025-01-01"}, True),
])
def test_period_ordered(value: dict[str, Any], ok: bool) -> None:
    assert NATIVE["per-1"](value, {}) is ok


def test_local_reference_must_be_contained() -> None:
    root = {"contained": [{"resourceType": "Patient", "id": "p1"}]}
    assert NATIVE["ref-1"]({"reference": "#p1"}, root)
    assert not NATIVE["ref-1"]({"reference": "#p2"}, root)


@pytest.mark.parametrize("value", [{}, {"a": 1}, {"b": 1}, {"a": 1, "b": 2}, {"_a": {}}])
def test_shape_evaluator_matches_fhirpath(value: dict[str, Any]) -> None:
    expr = "a.empty() or b.exists()"
    native = by_shape(expr, {"a": "a", "b": "b"})
    assert native is not None
    plain = {k: v for k, v in value.items() if not k.startswith("_")}
    assert native(plain, plain) == (fhirpathpy.evaluate(plain, expr) in ([], [True]))
