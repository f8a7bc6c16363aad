"""Assessment feedback intake over the API, on SQLite and PostgreSQL: the report completes
the Task in the transaction that stores it, with the outbox row for the GP's Endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiles import canonical
from service.store import outbox
from service.store.model import SYSTEM

from .conftest import Kit

ODI_EXAMPLE = (
    Path(__file__).resolve().parents[3] / "profiles/examples/QuestionnaireResponse-odi.json"
)


async def accepted_referral(kit: Kit, *, endpoint: bool = True) -> dict[str, Any]:
    refs = await kit.gp_and_clinic()
    if endpoint:
        ep = await kit.post(gp_endpoint(refs["practice"]))
        refs["endpoint"] = f"Endpoint/{ep['id']}"
    sr = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    refs["referral"] = f"ServiceRequest/{sr['id']}"
    task = await task_of(kit, refs["referral"])
    refs["task"] = task["id"]
    return refs


def gp_endpoint(org: str) -> dict[str, Any]:
    return {
        "resourceType": "Endpoint",
        "status": "active",
        "connectionType": {
            "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
            "code": "hl7-fhir-rest",
        },
        "managingOrganization": {"reference": org},
        "payloadType": [{"text": "FHIR message"}],
        "address": "https://gp.test/fhir",
    }


async def task_of(kit: Kit, referral: str) -> dict[str, Any]:
    found = (await kit.api.get("Task", params={"focus": referral})).json()
    return dict(found["entry"][-1]["resource"])


async def act(kit: Kit, refs: dict[str, str], status: str) -> None:
    task = (await kit.api.get(f"Task/{refs['task']}")).json()
    body = {k: v for k, v in task.items() if k != "meta"} | {"status": status}
    version = task["meta"]["versionId"]
    headers = {"X-Acting-Organization": refs["clinic"], "If-Match": f'W/"{version}"'}
    r = await kit.api.put(f"Task/{refs['task']}", json=body, headers=headers)
    assert r.status_code == 200, r.text


def report(refs: dict[str, str], performer: str | None = None) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "meta": {"profile": [canonical.ASSESSMENT_FEEDBACK]},
        "basedOn": [{"reference": refs["referral"]}],
        "status": "final",
        "code": {"coding": [{"system": canonical.FEEDBACK_CODE, "code": "assessment-feedback"}]},
        "subject": {"reference": refs["patient"]},
        "issued": "2026-12-05T10:00:00+01:00",
        "performer": [{"reference": performer or refs["clinic"]}],
        "conclusion": "Non-specific low back pain; exercise and graded activity.",
        "conclusionCode": [
            {"coding": [{"system": canonical.TRIAGE_CATEGORY, "code": "non-specific"}]}
        ],
    }


def transaction(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{i}", "resource": r,
             "request": {"method": "POST", "url": r["resourceType"]}}
            for i, r in enumerate(resources)
        ],
    }


async def statuses(kit: Kit, task_id: str) -> list[outbox.DeliveryStatus]:
    async with kit.store.begin(SYSTEM) as repo:
        return await outbox.status(repo.connection, task_id=task_id)


async def test_report_validates(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    r = await kit.api.post("DiagnosticReport/$validate", json=report(refs))
    assert [i for i in r.json()["issue"] if i["severity"] == "error"] == [], r.text


@pytest.mark.parametrize("start", ["accepted", "in-progress"])
async def test_feedback_completes_the_task_and_queues_delivery(kit: Kit, start: str) -> None:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    if start == "in-progress":
        await act(kit, refs, "in-progress")
    clinic = {"X-Acting-Organization": refs["clinic"]}
    r = await kit.api.post("", json=transaction(report(refs)), headers=clinic)
    assert r.status_code == 200, r.text
    report_ref = r.json()["entry"][0]["response"]["location"].split("/_history")[0]
    task = (await kit.api.get(f"Task/{refs['task']}")).json()
    assert task["status"] == "completed"
    assert task["output"][0]["valueReference"] == {"reference": report_ref}
    history = (await kit.api.get(f"Task/{refs['task']}/_history")).json()
    assert [e["resource"]["status"] for e in history["entry"]][:2] == ["completed", "in-progress"]
    [message] = await statuses(kit, refs["task"])
    assert message.row.status == "pending" and message.row.endpoint_ref == refs["endpoint"]
    assert message.row.endpoint_url == "https://gp.test/fhir/$process-message"
    op = (await kit.api.get(f"Task/{refs['task']}/$delivery-status")).json()
    parts = {p["name"]: p for p in op["parameter"][1]["part"]}
    assert parts["messageId"]["valueString"] == message.row.id
    assert parts["status"]["valueCode"] == "pending"
    # the GP pulls it
    gp = {"X-Acting-Organization": refs["practice"]}
    pulled = (await kit.api.get("DiagnosticReport", params={"based-on": refs["referral"]},
                                headers=gp)).json()
    assert pulled["total"] == 1
    assert f"DiagnosticReport/{pulled['entry'][0]['resource']['id']}" == report_ref


async def test_plain_post_of_the_report_also_completes(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    r = await kit.api.post("DiagnosticReport", json=report(refs))
    assert r.status_code == 201, r.text
    assert (await kit.api.get(f"Task/{refs['task']}")).json()["status"] == "completed"
    assert len(await statuses(kit, refs["task"])) == 1


async def test_feedback_on_a_requested_task_is_409_and_stores_nothing(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    clinic = {"X-Acting-Organization": refs["clinic"]}
    r = await kit.api.post("", json=transaction(report(refs)), headers=clinic)
    issues = kit.outcome(r, 409)
    assert "accept" in issues[0]["diagnostics"]
    assert await kit.count("DiagnosticReport") == 0
    assert (await kit.api.get(f"Task/{refs['task']}")).json()["status"] == "requested"
    assert await statuses(kit, refs["task"]) == []


async def test_feedback_by_another_clinic_is_409_and_stores_nothing(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    other = await kit.post(kit.organization("Annen klinikk"))
    other_ref = f"Organization/{other['id']}"
    r = await kit.api.post("", json=transaction(report(refs, other_ref)),
                           headers={"X-Acting-Organization": other_ref})
    kit.outcome(r, 409)
    r = await kit.api.post("DiagnosticReport", json=report(refs, other_ref))  # system, performer
    kit.outcome(r, 409)
    assert await kit.count("DiagnosticReport") == 0
    assert (await kit.api.get(f"Task/{refs['task']}")).json()["status"] == "accepted"


async def test_no_gp_endpoint_completes_with_delivery_failed(kit: Kit) -> None:
    refs = await accepted_referral(kit, endpoint=False)
    await act(kit, refs, "accepted")
    r = await kit.api.post("DiagnosticReport", json=report(refs))
    assert r.status_code == 201, r.text
    task = (await kit.api.get(f"Task/{refs['task']}")).json()
    assert task["status"] == "completed"
    assert task["businessStatus"]["coding"][0]["code"] == "delivery-failed"
    assert "based-on" in task["businessStatus"]["text"]
    assert await statuses(kit, refs["task"]) == []
    op = (await kit.api.get(f"Task/{refs['task']}/$delivery-status")).json()
    assert [p["name"] for p in op["parameter"]] == ["task"]


async def test_questionnaire_response_is_scored_into_observations(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    qr = json.loads(ODI_EXAMPLE.read_text())
    qr |= {"subject": {"reference": refs["patient"]}, "basedOn": [{"reference": refs["referral"]}]}
    qr.pop("id", None)
    r = await kit.api.post("QuestionnaireResponse", json=qr)
    assert r.status_code == 201, r.text
    derived = {"derived-from": f"QuestionnaireResponse/{r.json()['id']}"}
    assert await kit.count("Observation", derived) >= 1


def lumbar_xray_plan(refs: dict[str, str], report_url: str) -> dict[str, Any]:
    """A recommendation CarePlan (no meta.profile) with a lumbar X-ray and no indication."""
    xray = {"system": canonical.IMAGING_PROCEDURE, "code": "xray-lumbar-spine"}
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "proposal",
        "subject": {"reference": refs["patient"]},
        "created": "2026-12-05T10:00:00+01:00",
        "author": {"reference": refs["clinic"]},
        "supportingInfo": [{"reference": refs["referral"]}, {"reference": report_url}],
        "activity": [{"detail": {"kind": "ServiceRequest", "code": {"coding": [xray]},
                                 "status": "not-started"}}],
    }


async def test_lumbar_imaging_without_indication_is_accepted_with_a_warning(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    bundle = transaction(report(refs))
    report_url = bundle["entry"][0]["fullUrl"]
    bundle["entry"].append({
        "fullUrl": "urn:uuid:00000000-0000-4000-8000-0000000000ff",
        "resource": lumbar_xray_plan(refs, report_url),
        "request": {"method": "POST", "url": "CarePlan"},
    })
    r = await kit.api.post("", json=bundle, headers={"X-Acting-Organization": refs["clinic"]})
    assert r.status_code == 200, r.text
    plan_entry = r.json()["entry"][1]["response"]
    assert plan_entry["status"].startswith("201")
    issues = plan_entry["outcome"]["issue"]
    assert [(i["severity"], i["code"]) for i in issues] == [("warning", "business-rule")]
    # the entry's own outcome: FHIRPath rooted at the entry's resource
    assert issues[0]["expression"] == ["CarePlan.activity[0].detail.reasonCode"]
    task = (await kit.api.get(f"Task/{refs['task']}")).json()
    assert task["status"] == "completed"
