from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from profiles.builders import FEEDBACK_EVENT, URI_SYSTEM, feedback_message

BASE = "https://chiroref.test/fhir"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _resources() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The report, then (as `feedback_message` takes them) its results and plan, then
    what they reference."""
    report, included, referenced = _parts()
    return report, [*referenced[:2], *included]


def _parts() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    patient = {"resourceType": "Patient", "id": "p1"}
    referral = {
        "resourceType": "ServiceRequest", "id": "sr1", "status": "completed",
        "intent": "order", "subject": {"reference": "Patient/p1"},
        "requester": {"reference": "PractitionerRole/gp1"},
    }
    clinic = {"resourceType": "Organization", "id": "clinic", "name": "Ryggklinikken"}
    role = {"resourceType": "PractitionerRole", "id": "gp1",
            "practitioner": {"reference": "Practitioner/dr1"},
            "organization": {"reference": "Organization/gp"}}
    doctor = {"resourceType": "Practitioner", "id": "dr1"}
    practice = {"resourceType": "Organization", "id": "gp", "name": "Legekontoret"}
    obs = {
        "resourceType": "Observation", "id": "o1", "status": "final",
        "code": {"text": "ODI"}, "valueInteger": 32, "subject": {"reference": "Patient/p1"},
    }
    plan = {
        "resourceType": "CarePlan", "id": "cp1", "status": "active", "intent": "plan",
        "subject": {"reference": "Patient/p1"},
    }
    report = {
        "resourceType": "DiagnosticReport", "id": "dr1", "status": "final",
        "code": {"text": "Chiropractor assessment"}, "subject": {"reference": "Patient/p1"},
        "basedOn": [{"reference": "ServiceRequest/sr1"}],
        "result": [{"reference": "Observation/o1"}],
        "performer": [{"reference": "Organization/clinic"}],
    }
    return report, [obs, plan], [patient, referral, clinic, role, doctor, practice]


def _message() -> dict[str, Any]:
    report, included = _resources()
    return feedback_message(
        "m-1", NOW, report, included, "Organization/clinic", "Organization/gp",
        "https://gp.test/fhir/$process-message", BASE + "/",
    )


def test_header_first_then_report_and_references() -> None:
    bundle = _message()
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types == [
        "MessageHeader", "DiagnosticReport", "Patient", "ServiceRequest", "Observation", "CarePlan",
    ]
    assert bundle["id"] == "m-1" and bundle["type"] == "message"
    assert bundle["timestamp"] == "2026-03-02T09:30:00.000Z"


def test_header_names_event_parties_and_focus() -> None:
    header = _message()["entry"][0]["resource"]
    assert header["eventCoding"] == FEEDBACK_EVENT
    assert header["destination"] == [
        {"endpoint": "https://gp.test/fhir/$process-message",
         "receiver": {"reference": "Organization/gp"}}
    ]
    assert header["sender"] == {"reference": "Organization/clinic"}
    assert header["source"]["endpoint"] == BASE
    assert header["focus"] == [{"reference": f"{BASE}/DiagnosticReport/dr1"}]


def test_full_urls_are_absolute_and_unique() -> None:
    report, included = _resources()
    bundle = feedback_message(
        "m-2", NOW, report, [*included, included[0]], "Organization/c", "Organization/g",
        "https://gp.test/in", BASE,
    )
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert all(u.startswith(BASE + "/") for u in urls)
    assert len(urls) == len(set(urls)) == 6


def test_valid_r4_bundle() -> None:
    Bundle.model_validate(_message())


def _full_message() -> dict[str, Any]:
    report, included, referenced = _parts()
    return feedback_message(
        "0d9a5e6c-1b2f-4c3d-8e7f-000000000001", NOW, report, included, "Organization/clinic",
        "Organization/gp", "https://gp.test/fhir/$process-message", BASE,
        referenced=[*referenced, referenced[0]],
    )


def test_report_then_results_then_what_they_reference() -> None:
    bundle = _full_message()
    refs = [f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]]
    assert refs[1:] == [
        "DiagnosticReport/dr1", "Observation/o1", "CarePlan/cp1", "Patient/p1",
        "ServiceRequest/sr1", "Organization/clinic", "PractitionerRole/gp1", "Practitioner/dr1",
        "Organization/gp",
    ]
    assert [e["fullUrl"] for e in bundle["entry"][1:]] == [f"{BASE}/{r}" for r in refs[1:]]


def test_every_local_reference_resolves_inside_the_message() -> None:
    bundle = _full_message()
    inside = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str):
                found.append(ref.removeprefix(BASE + "/"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk([e["resource"] for e in bundle["entry"]])
    assert found and set(found) <= inside


def test_bundle_identifier_is_the_message_uuid() -> None:
    bundle = _full_message()
    assert bundle["identifier"] == {
        "system": URI_SYSTEM, "value": "urn:uuid:0d9a5e6c-1b2f-4c3d-8e7f-000000000001",
    }
    assert URI_SYSTEM == "urn:ietf:rfc:3986"
    Bundle.model_validate(bundle)
