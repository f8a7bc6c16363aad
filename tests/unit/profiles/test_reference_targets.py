"""Base R4 reference target types: a literal reference must name a type its element lists."""

from __future__ import annotations

from typing import Any

import pytest

from profiles.checks import is_resource_type, reference_type
from profiles.validate import validate_resource


def errors_at(resource: dict[str, Any]) -> dict[str, str]:
    return {i.expression or "": i.message for i in validate_resource(resource)
            if i.severity == "error"}


def care_plan(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "CarePlan", "status": "active", "intent": "plan",
            "subject": {"reference": "Patient/1"}, **elements}


@pytest.mark.parametrize(("resource", "where", "named"), [
    (care_plan(subject={"reference": "Organization/1"}), "CarePlan.subject.reference",
     "Group or Patient, not Organization"),
    (care_plan(subject={"reference": "#o"}, contained=[
        {"resourceType": "Organization", "id": "o", "name": "x"}]),
     "CarePlan.subject.reference", "not Organization"),  # a contained target counts too
    (care_plan(subject={"type": "Device", "identifier": {"value": "1"}}),
     "CarePlan.subject", "not Device"),  # a logical reference by its type
    (care_plan(subject={"reference": "http://other.example/fhir/Endpoint/1"}),
     "CarePlan.subject.reference", "not Endpoint"),
    (care_plan(subject={"reference": "Location?identifier=x|1"}),
     "CarePlan.subject.reference", "not Location"),
    (care_plan(identifier=[{"value": "1", "assigner": {"reference": "Patient/2"}}]),
     "CarePlan.identifier[0].assigner.reference", "Organization, not Patient"),
    (care_plan(note=[{"text": "x", "authorReference": {"reference": "Location/1"}}]),
     "CarePlan.note[0].author.reference", "not Location"),
    ({"resourceType": "Patient", "generalPractitioner": [
        {"reference": "Practitioner/1"}, {"reference": "Device/1"}]},
     "Patient.generalPractitioner[1].reference", "not Device"),
])
def test_a_reference_to_a_type_the_element_does_not_list_is_an_error(
        resource: dict[str, Any], where: str, named: str) -> None:
    found = errors_at(resource)
    assert where in found, found
    assert named in found[where] and found[where].startswith("FHIR R4: must reference ")


@pytest.mark.parametrize("reference", [
    "Patient/1", "Group/2", "http://other.example/fhir/Patient/1", "Patient/1/_history/2",
    "Patient?identifier=x|1", "#contained", "urn:uuid:0b7c4e9e-5a3d-4f2b-8c1d-000000000002",
    "http://example.org/not-a-fhir-url", "https://records.example.org/People/42",
    "http://hl7.org/fhir/StructureDefinition/Patient/",
])
def test_listed_types_and_references_naming_no_type_pass(reference: str) -> None:
    plan = care_plan(subject={"reference": reference})
    if reference == "#contained":
        plan["contained"] = [{"resourceType": "Patient", "id": "contained"}]
    assert not any(e.endswith("subject.reference") for e in errors_at(plan))


def test_an_element_that_takes_any_type_is_not_checked() -> None:
    task = {"resourceType": "Task", "status": "requested", "intent": "order",
            "focus": {"reference": "Endpoint/1"}, "for": {"reference": "Device/1"}}
    base = [m for m in errors_at(task).values() if m.startswith("FHIR R4: ")]
    assert base == []  # (the ReferralTask profile has its own rules for focus and for)


def test_is_resource_type() -> None:
    assert is_resource_type("Patient") and is_resource_type("Organization")
    for name in ("People", "Reference", "patient", "", "Patient ", "Resource",
                 "DomainResource"):
        assert not is_resource_type(name), name


def test_reference_type_without_a_walk() -> None:
    assert reference_type("Organization?identifier=s|v") == "Organization"
    assert reference_type("https://x.example/fhir/Patient/1/_history/2") == "Patient"
    for none in ("#contained", "http://x.example?y=1", "Resource/1", "urn:uuid:1", "People/4"):
        assert reference_type(none) is None, none
