from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from profiles.builders import FEEDBACK_EVENT, feedback_message

BASE = "https://chiroref.test/fhir"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _resources() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    patient = {"resourceType": "Patient", "id": "p1"}
    referral = {
        "resourceType": "ServiceRequest", "id": "sr1", "status": "completed",
        "intent": "order", "subject": {"reference": "Patient/p1"},
    }
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
    }
    return report, [patient, referral, obs, plan]


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
