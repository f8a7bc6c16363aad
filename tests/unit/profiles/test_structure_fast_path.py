"""`CHIROREF_STRUCTURE_FAST_PATH`: with the lean check in front, every verdict and every
issue stays exactly what fhir.resources alone gives."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from profiles import lean_structure, structure
from profiles.validate import validate_resource
from tests.support.structure_edits import ODD_VALUES, PRIMITIVE_TYPES, edit

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "examples"
VALID = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))
         if ".expected" not in p.name]
INVALID = [json.loads(p.read_text()) for p in sorted((EXAMPLES / "invalid").glob("*.json"))
           if ".expected" not in p.name]
BAD: list[Any] = [42, "x", "", True, None, [], {}, [1], {"a": 1}, "2026-13-01", 1.5, "true"]


@pytest.fixture
def fast() -> Iterator[None]:
    structure.use_fast_path(True)
    try:
        yield
    finally:
        structure.use_fast_path(False)


def both_ways(resource: Any) -> tuple[Any, Any]:
    structure.use_fast_path(False)
    slow = validate_resource(copy.deepcopy(resource))
    structure.use_fast_path(True)
    return slow, validate_resource(copy.deepcopy(resource))


@pytest.mark.usefixtures("fast")
def test_examples_and_fixtures_give_the_same_issues() -> None:
    for resource in VALID + INVALID:
        slow, quick = both_ways(resource)
        assert quick == slow, resource.get("resourceType")


@pytest.mark.usefixtures("fast")
def test_seeded_edits_give_the_same_issues() -> None:
    """The differential test: 1,500 seeded edits of every kind in structure_edits (wrong
    types and near-miss formats, unknown and dropped elements, arrays, second choice
    types, `_x` siblings, nested resources); bench/structure_check.py runs more."""
    rng = random.Random(7)
    faulted = 0
    for _ in range(1500):
        resource = edit(rng.choice(VALID), rng)
        slow, quick = both_ways(resource)
        assert quick == slow, json.dumps(resource)[:300]
        faulted += any(i.is_error for i in slow)
    assert faulted > 1000  # the edits do break things: the comparison is not vacuous


def fhir_accepts(resource: dict[str, Any]) -> bool:
    try:
        structure.model_class(resource["resourceType"]).model_validate(resource)
    except Exception:
        return False
    return True


def test_no_primitive_value_passes_that_fhir_resources_refuses() -> None:
    """Every primitive type (as an extension's value[x]) with every odd value: fhir.resources
    checks some types beyond the FHIR regexes (Unicode whitespace in string and code, base64
    padding, UUID version 4), and the lean check must be at least as strict."""
    checked = 0
    for value_type in PRIMITIVE_TYPES:
        for value in ODD_VALUES:
            basic = {"resourceType": "Basic", "code": {"text": "x"}, "extension": [
                {"url": "http://example.org/x", f"value{value_type}": value}]}
            if lean_structure.passes(basic):
                checked += 1
                assert fhir_accepts(basic), (value_type, value)
    assert checked > 100  # some of them are right for some type: the check is not vacuous


@pytest.mark.parametrize("resource", [
    {"resourceType": "Patient", "name": [{"family": "\u00a0"}]},
    {"resourceType": "Patient", "name": [{"id": "\u000b"}]},
    {"resourceType": "Basic", "code": {"coding": [{"code": "x\u3000"}]}},
    {"resourceType": "Patient", "gender": "male\u00a0"},
    {"resourceType": "Patient", "photo": [{"data": "a=bc"}]},
    {"resourceType": "Patient", "photo": [{"data": "A==="}]},
    {"resourceType": "Patient", "extension": [{"url": "http://x", "valueUuid":
                                               "urn:uuid:0b7c4e9e-5a3d-1f2b-8c1d-000000000002"}]},
])
@pytest.mark.usefixtures("fast")
def test_what_fhir_resources_refuses_beyond_the_fhir_regexes_is_refused(
        resource: dict[str, Any]) -> None:
    assert not fhir_accepts(resource)
    assert not lean_structure.passes(resource)
    slow, quick = both_ways(resource)
    assert quick == slow and slow


def test_passes_is_validate_finding_nothing() -> None:
    rng = random.Random(11)
    for _ in range(500):
        resource = edit(rng.choice(VALID), rng)
        assert lean_structure.passes(resource) is not bool(lean_structure.validate(resource))
    assert all(lean_structure.passes(r) for r in VALID)
    assert not any(lean_structure.passes(bad) for bad in BAD)


def test_passes_stops_at_the_first_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resource full of faults costs one partial walk: nothing past the first is looked at."""
    seen: list[str] = []
    real = lean_structure._walk

    def counting(obj: dict, tab: Any, path: str, out: list, depth: int = 0) -> None:
        seen.append(path)
        real(obj, tab, path, out, depth)

    monkeypatch.setattr(lean_structure, "_walk", counting)
    names = [{"family": 1}] * 1000
    assert not lean_structure.passes({"resourceType": "Patient", "name": names})
    assert seen == ["Patient", "Patient.name[0]"]
    assert len(lean_structure.validate({"resourceType": "Patient", "name": names})) == 1000


def test_create_app_compiles_the_tables_when_the_fast_path_is_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from service.app import create_app
    from service.settings import Settings

    prepared: list[tuple[str, ...]] = []
    monkeypatch.setattr(lean_structure, "prepare", lambda types: prepared.append(tuple(types)))
    try:
        create_app(Settings(structure_fast_path=False))
        assert prepared == []
        create_app(Settings(structure_fast_path=True))
        assert "ServiceRequest" in prepared[0] and "Bundle" in prepared[0]
    finally:
        structure.use_fast_path(False)


@pytest.mark.usefixtures("fast")
def test_a_valid_resource_skips_model_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = structure.model_class

    def counting(rtype: str) -> Any:
        calls.append(rtype)
        return real(rtype)

    monkeypatch.setattr(structure, "model_class", counting)
    referral = next(r for r in VALID if r["resourceType"] == "ServiceRequest")
    assert structure.check_structure(referral, "ServiceRequest") == []
    assert calls == []  # the lean check passed it; pydantic never ran
    broken = {**referral, "status": 5}
    assert structure.check_structure(broken, "ServiceRequest") != []
    assert calls == ["ServiceRequest"]  # a fault is judged by fhir.resources


@pytest.mark.usefixtures("fast")
def test_a_failing_lean_check_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(resource: Any, root: str | None = None) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(lean_structure, "passes", broken)
    bad = {**VALID[0], "bogus": 1}
    assert [i.message for i in structure.check_structure(bad, bad["resourceType"])] == [
        "unknown element"]


@pytest.mark.usefixtures("fast")
@pytest.mark.parametrize("levels", [40, 60, 150])
def test_deep_nesting_is_judged_by_fhir_resources(levels: int) -> None:
    """fhir.resources gives out (RecursionError) at ~130 nested extensions; the lean walk
    would not, so past its own depth limit it leaves the verdict to fhir.resources."""
    inner: dict[str, Any] = {"url": "http://x", "valueString": "a"}
    for _ in range(levels):
        inner = {"url": "http://x", "extension": [inner]}
    basic = {"resourceType": "Basic", "code": {"text": "x"}, "extension": [inner]}
    slow, quick = both_ways(basic)
    assert quick == slow


@pytest.mark.usefixtures("fast")
def test_a_lone_surrogate_is_judged_by_fhir_resources() -> None:
    patient = {"resourceType": "Patient", "name": [{"family": "a\ud800b"}]}
    slow, quick = both_ways(patient)
    assert quick == slow and any(i.is_error for i in slow)


@pytest.mark.parametrize(("field", "value", "expression", "message"), [
    ("active", "true", "Patient.active", "expected a boolean, got a string"),
    ("multipleBirthInteger", "2", "Patient.multipleBirthInteger",
     "expected an integer (integer), got a string"),
    ("deceasedDateTime", 20260101, "Patient.deceasedDateTime",
     "expected a string (dateTime), got a number"),
    ("telecom", [], "Patient.telecom", "empty array"),
    ("maritalStatus", None, "Patient.maritalStatus", "null is not allowed here"),
    ("maritalStatus", {}, "Patient.maritalStatus", "empty object (ele-1)"),
])
@pytest.mark.parametrize("fast_path", [False, True])
def test_json_fhir_resources_converts_is_refused_either_way(
        field: str, value: Any, expression: str, message: str, fast_path: bool) -> None:
    """FHIR's JSON format, which pydantic's lax mode does not hold: fhir.resources passes
    these, the lean check's issue refuses them, with the fast path on and off."""
    patient = {"resourceType": "Patient", field: value}
    assert fhir_accepts(patient)
    structure.use_fast_path(fast_path)
    try:
        issues = structure.check_structure(patient, "Patient")
    finally:
        structure.use_fast_path(False)
    assert [(i.severity, i.code, i.expression, i.message) for i in issues] == [
        ("error", "structure", expression, message)]


def test_the_lean_walks_own_depth_limit_refuses_nothing() -> None:
    """Past MAX_DEPTH the lean walk stops looking; fhir.resources' verdict stands alone."""
    inner: dict[str, Any] = {"url": "http://x", "valueString": "a"}
    for _ in range(lean_structure.MAX_DEPTH + 5):
        inner = {"url": "http://x", "extension": [inner]}
    basic: dict[str, Any] = {"resourceType": "Basic", "code": {"text": "x"},
                             "extension": [inner]}
    assert not lean_structure.passes(basic) and fhir_accepts(basic)
    assert structure.check_structure(basic, "Basic") == []
    basic["extension"].append({"url": "http://y", "valueBoolean": "yes"})  # above the limit
    assert [i.expression for i in structure.check_structure(basic, "Basic")] == [
        "Basic.extension[1].valueBoolean"]
