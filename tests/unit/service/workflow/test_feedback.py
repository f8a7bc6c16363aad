from __future__ import annotations

from datetime import UTC, datetime

from service.api.operations import delivery_parameters
from service.store.outbox import DeliveryStatus, OutboxRow
from service.workflow.feedback import FEEDBACK_OUTPUT, completed_task, gp_endpoint, referral_of
from service.workflow.postcodes import Position
from service.workflow.routing import Candidate, rank_clinics
from service.workflow.routing_service import NO_CLINIC, routed_task

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_referral_of_takes_the_first_service_request() -> None:
    report = {"basedOn": [{"reference": "CarePlan/1"}, {"reference": "ServiceRequest/2"}]}
    assert referral_of(report) == ("ServiceRequest", "2")
    assert referral_of({"basedOn": [{"reference": "CarePlan/1"}]}) is None
    foreign = {"basedOn": [{"reference": "http://other.example/fhir/ServiceRequest/2"}]}
    assert referral_of(foreign) is None  # another server's referral is not ours


async def test_feedback_for_a_requester_on_another_server_reads_none_of_ours() -> None:
    class Repo:
        async def read(self, resource_type: str, id: str) -> object:
            raise AssertionError(f"read {resource_type}/{id}")

    referral = {"requester": {"reference": "http://other.example/fhir/PractitionerRole/1"}}
    assert await gp_endpoint(Repo(), referral) is None  # type: ignore[arg-type]


def test_completed_task_has_the_report_as_output() -> None:
    done = completed_task({"status": "in-progress"}, "DiagnosticReport/9", "t", None)
    assert done["status"] == "completed" and "businessStatus" not in done
    assert done["output"] == [{"type": FEEDBACK_OUTPUT,
                               "valueReference": {"reference": "DiagnosticReport/9"}}]


def test_undeliverable_is_delivery_failed() -> None:
    done = completed_task({"status": "in-progress"}, "DiagnosticReport/9", "t", "no endpoint")
    assert done["businessStatus"]["coding"][0]["code"] == "delivery-failed"
    assert done["businessStatus"]["text"] == "no endpoint"


def test_routed_task_sets_owner_and_note() -> None:
    result = rank_clinics([Candidate("Organization/a", True, Position(59.9, 10.7), 0)],
                          Position(59.9, 10.7))
    task = routed_task({"status": "requested"}, result, NOW)
    assert task["owner"] == {"reference": "Organization/a"}
    assert task["note"][0]["authorString"] == "chiroref routing"


def test_routed_task_fails_without_clinic() -> None:
    task = routed_task({"status": "requested"}, rank_clinics([], None), NOW)
    assert task["status"] == "failed" and "owner" not in task
    assert task["statusReason"]["coding"] == [NO_CLINIC]


def test_delivery_parameters() -> None:
    row = OutboxRow("m1", "feedback", "sr", "t", "Endpoint/e", "https://x", "{}", "failed", 3,
                    NOW, None, "HTTP 400", NOW, None)
    params = delivery_parameters("Task/t", [DeliveryStatus(row)])
    parts = {p["name"]: p for p in params["parameter"][1]["part"]}
    assert parts["status"]["valueCode"] == "failed" and parts["attempts"]["valueInteger"] == 3
    assert parts["lastError"]["valueString"] == "HTTP 400"
