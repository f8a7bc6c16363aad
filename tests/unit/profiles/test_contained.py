"""Contained resources: dom-2..5 in Python, each contained resource's base R4 rules, and
no Python object reprs in any issue message."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import fhirpathpy
import pytest

from profiles.invariants import compile_invariant
from profiles.issues import Issue
from profiles.native import NATIVE
from profiles.package import package
from profiles.rules import Context
from profiles.validate import validate_file, validate_resource

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "examples"
ORG = {"resourceType": "Organization", "id": "clinic", "name": "Klinikken"}


def referral(*contained: dict[str, Any]) -> dict[str, Any]:
    sr: dict[str, Any] = json.loads((EXAMPLES / "ChiroAssessmentReferral-plain.json").read_text())
    sr["contained"] = [copy.deepcopy(c) for c in contained]
    sr["performer"] = [{"reference": "#clinic"}]
    return sr


def found(issues: list[Issue]) -> set[tuple[str | None, str, str]]:
    return {(i.expression, i.code, i.severity) for i in issues}


def keys(issues: list[Issue]) -> set[str]:
    return {i.message.split(":")[0] for i in issues}


def test_referral_with_a_referenced_contained_organization_is_clean() -> None:
    assert validate_resource(referral(ORG)) == []
    assert validate_file(EXAMPLES / "ChiroAssessmentReferral-contained.json") == []


def test_unreferenced_contained_resource_fails_dom3() -> None:
    sr = referral(ORG)
    sr["performer"] = [{"reference": "Organization/1"}]
    issues = validate_resource(sr)
    assert found(issues) == {("ServiceRequest", "invariant", "error")}
    assert keys(issues) == {"dom-3"}


def test_contained_resource_referring_to_its_container_passes_dom3() -> None:
    sr = referral(ORG, {"resourceType": "Provenance", "id": "prov",
                        "target": [{"reference": "#"}], "recorded": "2025-11-20T09:30:00Z",
                        "agent": [{"who": {"reference": "#clinic"}}]})
    assert validate_resource(sr) == []


def test_sibling_reference_inside_contained_counts_and_resolves() -> None:
    role = {"resourceType": "PractitionerRole", "id": "role",
            "organization": {"reference": "#clinic"}}
    sr = referral(role, ORG)
    sr["performer"] = []
    sr["supportingInfo"] = [{"reference": "#role"}]
    del sr["performer"]
    assert validate_resource(sr) == []  # ref-1 in the role looks in the container
    role["organization"] = {"reference": "#nowhere"}
    assert ("ServiceRequest.contained[0].organization", "invariant", "error") in found(
        validate_resource(referral(role, ORG)))


@pytest.mark.parametrize(("change", "key"), [
    ({"contained": [{"resourceType": "Organization", "id": "x", "name": "n"}]}, "dom-2"),
    ({"meta": {"versionId": "1"}}, "dom-4"),
    ({"meta": {"lastUpdated": "2025-01-01T00:00:00Z"}}, "dom-4"),
    ({"meta": {"security": [{"system": "urn:x", "code": "R"}]}}, "dom-5"),
])
def test_contained_resource_rules(change: dict[str, Any], key: str) -> None:
    issues = validate_resource(referral(ORG | change))
    assert key in keys(issues)
    assert all(i.severity != "warning" for i in issues)


def test_contained_resource_gets_its_base_rules_at_its_path() -> None:
    patient = {"resourceType": "Patient", "id": "pat", "name": [{"use": "nickname-ish"}],
               "identifier": [{"system": "urn:oid:1.2.208.176.1.2", "value": "3102854321"}]}
    sr = referral(ORG, patient)
    sr["subject"] = {"reference": "#pat"}
    issues = found(validate_resource(sr))
    assert ("ServiceRequest.contained[1].name[0].use", "code-invalid", "error") in issues
    assert ("ServiceRequest.contained[1].identifier[0].value", "value", "error") in issues
    unnamed = {"resourceType": "Organization", "id": "clinic"}
    assert ("ServiceRequest.contained[0]", "invariant", "error") in found(  # org-1
        validate_resource(referral(unnamed)))


def test_contained_structure_is_reported_once_at_its_path() -> None:
    issues = validate_resource(referral(ORG | {"bogus": 1}))
    assert found(issues) == {("ServiceRequest.contained[0].bogus", "structure", "error")}


def test_contained_junk_never_raises() -> None:
    for junk in (5, {"resourceType": "Nope", "id": "clinic"}, {"id": "clinic"}):
        issues = validate_resource(referral(junk))  # type: ignore[arg-type]
        assert issues and not any(i.severity == "fatal" for i in issues)


@pytest.mark.parametrize("key", ["dom-2", "dom-4", "dom-5"])
@pytest.mark.parametrize("contained", [
    [], [ORG], [ORG | {"contained": [ORG]}], [ORG | {"meta": {"versionId": "2"}}],
    [ORG | {"meta": {"lastUpdated": "2025-01-01T00:00:00Z"}}],
    [ORG | {"meta": {"security": [{"code": "R"}]}}], [ORG | {"meta": {"tag": [{"code": "t"}]}}],
])
def test_native_dom_matches_fhirpath(key: str, contained: list[dict[str, Any]]) -> None:
    expression = next(i["expression"] for i in package().core_data["types"]["Patient"]
                      ["invariants"] if i["key"] == key)
    value = {"resourceType": "Patient", "contained": contained}
    assert NATIVE[key](value, value) == (fhirpathpy.evaluate(value, expression) in ([], [True]))


@pytest.mark.parametrize(("value", "ok"), [
    ({"contained": [ORG], "managingOrganization": {"reference": "#clinic"}}, True),
    ({"contained": [ORG], "managingOrganization": {"reference": "Organization/clinic"}}, False),
    ({"contained": [ORG, ORG | {"id": "b", "partOf": {"reference": "#clinic"}}],
      "managingOrganization": {"reference": "#b"}}, True),
    ({"contained": [ORG | {"partOf": {"reference": "#"}}]}, True),
    ({"contained": [ORG, {"resourceType": "Organization", "id": "b", "name": "b"}],
      "managingOrganization": {"reference": "#clinic"}}, False),
    ({"contained": [ORG], "extension": [{"url": "u", "valueCanonical": "#clinic"}]}, True),
])
def test_native_dom3(value: dict[str, Any], ok: bool) -> None:
    assert NATIVE["dom-3"](value, value) is ok


def test_failed_evaluation_names_no_python_object() -> None:
    def boom(value: Any, root: dict[str, Any]) -> bool:
        raise ValueError(f"bad {object()}")

    inv = compile_invariant("x-1", "error", "h", "a.exists()", None, "T", names=["a"])
    inv = type(inv)(inv.key, inv.severity, inv.human, inv.expression, None, boom, inv.source)
    out: list[Issue] = []
    inv.check({"a": 1}, "Patient", Context({}, out, {}))
    assert [i.message for i in out] == ["x-1 could not be evaluated (ValueError)"]


def all_inputs() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*.json") if not p.name.endswith(
        (".expected.json", ".expected-warning.json")))


@pytest.mark.parametrize("path", all_inputs(), ids=lambda p: p.stem)
def test_no_message_carries_a_python_repr(path: Path) -> None:
    data = json.loads(path.read_text())
    variants = [data]
    if data.get("resourceType") != "Bundle":
        variants.append(data | {"contained": [ORG, {"resourceType": "Patient", "id": "p",
                                                    "name": [{"use": 5}]}, 7]})
    for variant in variants:
        assert not any(" object at 0x" in i.message for i in validate_resource(variant))
