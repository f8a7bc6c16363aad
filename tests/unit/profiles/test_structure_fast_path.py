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


def places(value: Any) -> list[tuple[Any, Any]]:
    out: list[tuple[Any, Any]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else []
    for key, child in items:
        out.append((value, key))
        out += places(child)
    return out


@pytest.mark.usefixtures("fast")
def test_examples_and_fixtures_give_the_same_issues() -> None:
    for resource in VALID + INVALID:
        slow, quick = both_ways(resource)
        assert quick == slow, resource.get("resourceType")


@pytest.mark.usefixtures("fast")
def test_seeded_edits_give_the_same_issues() -> None:
    rng = random.Random(7)
    for _ in range(300):
        resource = copy.deepcopy(rng.choice(VALID))
        container, key = rng.choice(places(resource))
        container[key] = copy.deepcopy(rng.choice(BAD))
        slow, quick = both_ways(resource)
        assert quick == slow, json.dumps(resource)[:200]


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

    monkeypatch.setattr(lean_structure, "validate", broken)
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
