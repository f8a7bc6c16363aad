"""Assessment feedback intake over the API, on SQLite and PostgreSQL: the report completes
the Task in the transaction that stores it, with the outbox row for the GP's Endpoint."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from profiles import canonical
from service.store import outbox
from service.store.model import SYSTEM
from workers.escalation import escalate_delivery

from .conftest import Kit

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles/examples"
ODI_EXAMPLE = EXAMPLES / "QuestionnaireResponse-odi.json"
ODI_OBSERVATION = EXAMPLES / "ChiroPromObservation-odi.json"


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


def odi_response(refs: dict[str, str]) -> dict[str, Any]:
    qr: dict[str, Any] = json.loads(ODI_EXAMPLE.read_text())
    qr |= {"subject": {"reference": refs["patient"]}, "basedOn": [{"reference": refs["referral"]}]}
    qr.pop("id", None)
    return qr


async def test_questionnaire_response_is_scored_into_observations(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    r = await kit.api.post("QuestionnaireResponse", json=odi_response(refs))
    assert r.status_code == 201, r.text
    qr_ref = f"QuestionnaireResponse/{r.json()['id']}"
    page = (await kit.api.get("Observation", params={"derived-from": qr_ref})).json()
    assert page["total"] == 1 and await kit.count("Observation") == 1
    [obs] = [e["resource"] for e in page["entry"]]
    # ODI example: 9 of 10 sections answered, 2+1+3+2+2+1+1+2+1 = 15 of 45 -> 33.33
    assert obs["valueQuantity"] == {"value": 33.33, "unit": "score",
                                    "system": "http://unitsofmeasure.org", "code": "{score}"}
    assert obs["code"]["coding"][0]["code"] == "odi"
    assert obs["derivedFrom"] == [{"reference": qr_ref}]
    assert obs["subject"] == {"reference": refs["patient"]}
    assert obs["basedOn"] == [{"reference": refs["referral"]}]
    assert "1 unanswered" in obs["note"][0]["text"]


@pytest.mark.parametrize("broken", ["out-of-range", "nothing-answered"])
async def test_unscorable_questionnaire_response_is_422_and_stores_nothing(
    kit: Kit, broken: str
) -> None:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    qr = odi_response(refs)
    if broken == "out-of-range":
        qr["item"][0]["answer"] = [{"valueInteger": 9}]
    else:
        qr["item"] = [{"linkId": item["linkId"]} for item in qr["item"]]
    r = await kit.api.post("QuestionnaireResponse", json=qr)
    kit.outcome(r, 422)
    bundle = transaction(report(refs), qr)  # in a feedback transaction too
    kit.outcome(await kit.api.post("", json=bundle), 422)
    for rtype in ("QuestionnaireResponse", "Observation", "DiagnosticReport"):
        assert await kit.count(rtype) == 0
    assert (await kit.api.get(f"Task/{refs['task']}")).json()["status"] == "accepted"
    assert await statuses(kit, refs["task"]) == []


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


# --- a second report, a closed Task ----------------------------------------------------------


def odi_observation(refs: dict[str, str], patient: str | None = None) -> dict[str, Any]:
    obs: dict[str, Any] = json.loads(ODI_OBSERVATION.read_text())
    obs.pop("id", None)
    obs.pop("derivedFrom", None)
    return obs | {"subject": {"reference": patient or refs["patient"]},
                  "basedOn": [{"reference": refs["referral"]}]}


async def completed_referral(kit: Kit) -> dict[str, str]:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    clinic = {"X-Acting-Organization": refs["clinic"]}
    r = await kit.api.post("", json=transaction(report(refs)), headers=clinic)
    assert r.status_code == 200, r.text
    refs["report"] = r.json()["entry"][0]["response"]["location"].split("/_history")[0]
    return refs


async def test_a_second_report_on_a_completed_task_is_409_and_stores_nothing(kit: Kit) -> None:
    refs = await completed_referral(kit)
    task = (await kit.api.get(f"Task/{refs['task']}")).json()
    clinic = {"X-Acting-Organization": refs["clinic"]}
    second = transaction(report(refs), odi_observation(refs))
    issues = kit.outcome(await kit.api.post("", json=second, headers=clinic), 409)
    assert "no open Task" in issues[0]["diagnostics"]
    kit.outcome(await kit.api.post("DiagnosticReport", json=report(refs)), 409)  # system too
    assert await kit.count("DiagnosticReport") == 1
    assert await kit.count("Observation") == 0
    assert len(await statuses(kit, refs["task"])) == 1  # the first delivery only
    now = (await kit.api.get(f"Task/{refs['task']}")).json()
    assert now["meta"]["versionId"] == task["meta"]["versionId"]


def closed(kit: Kit, response: Any) -> None:
    issues = kit.outcome(response, 409)
    assert [(i["code"], i["expression"]) for i in issues] == [("business-rule", ["Task.status"])]
    assert "the Task is closed" in issues[0]["diagnostics"]


def patching(org: str, task: dict[str, Any]) -> dict[str, str]:
    return {"X-Acting-Organization": org, "If-Match": f'W/"{task["meta"]["versionId"]}"',
            "Content-Type": "application/json-patch+json"}


async def put_task(kit: Kit, task: dict[str, Any], org: str, **changes: Any) -> Any:
    body = {k: v for k, v in task.items() if k != "meta"} | changes
    headers = {"X-Acting-Organization": org, "If-Match": f'W/"{task["meta"]["versionId"]}"'}
    return await kit.api.put(f"Task/{task['id']}", json=body, headers=headers)


async def test_clinic_cannot_edit_the_output_of_a_completed_task(kit: Kit) -> None:
    refs = await completed_referral(kit)
    task = (await kit.api.get(f"Task/{refs['task']}")).json()
    other = [{**task["output"][0], "valueReference": {"reference": refs["patient"]}}]
    closed(kit, await put_task(kit, task, refs["clinic"], output=other))
    without = {k: v for k, v in task.items() if k != "output"}
    closed(kit, await put_task(kit, without, refs["clinic"]))
    kit.outcome(await put_task(kit, task, refs["clinic"], output=[]), 422)  # JSON: no []
    ops = [{"op": "remove", "path": "/output"}]
    headers = patching(refs["clinic"], task)
    closed(kit, await kit.api.patch(f"Task/{refs['task']}", content=json.dumps(ops),
                                    headers=headers))
    assert (await kit.api.get(f"Task/{refs['task']}")).json() == task


async def test_clinic_cannot_erase_a_delivery_failed_escalation(kit: Kit) -> None:
    refs = await completed_referral(kit)
    async with kit.store.begin(SYSTEM) as repo:  # the worker gives up on the delivery
        assert await escalate_delivery(repo, refs["task"], "GP endpoint answered 404")
    task = (await kit.api.get(f"Task/{refs['task']}")).json()
    assert task["businessStatus"]["coding"][0]["code"] == "delivery-failed"
    body = {k: v for k, v in task.items() if k not in ("businessStatus",)}
    closed(kit, await put_task(kit, body, refs["clinic"]))
    ops = [{"op": "remove", "path": "/businessStatus"}]
    headers = patching(refs["clinic"], task)
    closed(kit, await kit.api.patch(f"Task/{refs['task']}", content=json.dumps(ops),
                                    headers=headers))
    assert (await kit.api.get(f"Task/{refs['task']}")).json() == task
    found = await kit.api.get("Task", params={"business-status": "delivery-failed"})
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [refs["task"]]


async def test_gp_cannot_change_the_status_reason_of_a_completed_task(kit: Kit) -> None:
    refs = await completed_referral(kit)
    task = (await kit.api.get(f"Task/{refs['task']}")).json()
    reason = {"text": "patient moved"}
    closed(kit, await put_task(kit, task, refs["practice"], statusReason=reason))
    closed(kit, await put_task(kit, task, refs["practice"], status="cancelled"))
    assert (await kit.api.get(f"Task/{refs['task']}")).json() == task


# --- the report's subject and results: the caller's view, the referral's patient -------------


async def other_patient(kit: Kit) -> str:
    made = await kit.post(kit.patient("15838510075", "Annen"))
    return f"Patient/{made['id']}"


async def nothing_stored(kit: Kit, refs: dict[str, str], observations: int = 0) -> None:
    assert await kit.count("DiagnosticReport") == 0
    assert await kit.count("Observation") == observations
    assert await kit.count("CarePlan") == 0
    assert (await kit.api.get(f"Task/{refs['task']}")).json()["status"] == "accepted"
    assert await statuses(kit, refs["task"]) == []


async def test_report_about_another_patient_is_422_and_stores_nothing(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    stranger = await other_patient(kit)
    wrong = report(refs) | {"subject": {"reference": stranger}}
    clinic = {"X-Acting-Organization": refs["clinic"]}
    r = await kit.api.post("DiagnosticReport", json=wrong, headers=clinic)
    issues = kit.outcome(r, 422)
    assert kit.expressions(issues) == {"DiagnosticReport.subject"}
    r = await kit.api.post("", json=transaction(odi_observation(refs), wrong), headers=clinic)
    assert kit.expressions(kit.outcome(r, 422)) == {"Bundle.entry[1].resource.subject"}
    await nothing_stored(kit, refs)


@pytest.mark.parametrize("rtype", ["Observation", "CarePlan"])
async def test_included_resource_about_another_patient_is_422(kit: Kit, rtype: str) -> None:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    stranger = await other_patient(kit)
    bundle = transaction(report(refs), odi_observation(refs))
    report_url = bundle["entry"][0]["fullUrl"]
    bundle["entry"][0]["resource"]["result"] = [{"reference": bundle["entry"][1]["fullUrl"]}]
    extra = (odi_observation(refs, stranger) if rtype == "Observation"
             else lumbar_xray_plan(refs, report_url) | {"subject": {"reference": stranger}})
    bundle["entry"].append({"fullUrl": "urn:uuid:00000000-0000-4000-8000-0000000000ff",
                            "resource": extra, "request": {"method": "POST", "url": rtype}})
    if rtype == "Observation":  # the report's own result (the CarePlan cites the report)
        extra_url = bundle["entry"][2]["fullUrl"]
        bundle["entry"][0]["resource"]["result"].append({"reference": extra_url})
    r = await kit.api.post("", json=bundle, headers={"X-Acting-Organization": refs["clinic"]})
    issues = kit.outcome(r, 422)
    assert kit.expressions(issues) == {"Bundle.entry[2].resource.subject"}
    assert stranger in issues[0]["diagnostics"]
    await nothing_stored(kit, refs)


async def test_result_hidden_from_the_clinic_is_refused_and_stays_hidden(kit: Kit) -> None:
    """The reviewer's attack: the system holds an Observation about another patient; the
    clinic cites it as a result of its report for the referral's patient."""
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    secret = await kit.post(odi_observation(refs, await other_patient(kit)))  # system-made
    secret_ref = f"Observation/{secret['id']}"
    cites = report(refs) | {"result": [{"reference": secret_ref}]}
    clinic = {"X-Acting-Organization": refs["clinic"]}
    for attempt in (
        kit.api.post("DiagnosticReport", json=cites, headers=clinic),
        kit.api.post("", json=transaction(cites), headers=clinic),
    ):
        issues = kit.outcome(await attempt, 422)
        assert issues[0]["code"] == "not-found"
        assert kit.expressions(issues) <= {
            "DiagnosticReport.result[0]", "Bundle.entry[0].resource.result[0]"
        }
        assert "Annen" not in json.dumps(issues)  # nothing of the hidden resource leaks
    # the system sees it, and it is about another patient: refused too
    r = await kit.api.post("DiagnosticReport", json=cites)
    assert kit.expressions(kit.outcome(r, 422)) == {"DiagnosticReport.result[0]"}
    await nothing_stored(kit, refs, observations=1)
    for org in (refs["clinic"], refs["practice"]):
        hidden = await kit.api.get(secret_ref, headers={"X-Acting-Organization": org})
        assert hidden.status_code == 404
        found = await kit.api.get("Observation", headers={"X-Acting-Organization": org})
        assert found.json()["total"] == 0


async def test_unknown_result_is_422(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    missing = report(refs) | {"result": [{"reference": f"Observation/{uuid.uuid4()}"}]}
    r = await kit.api.post("DiagnosticReport", json=missing)
    assert kit.expressions(kit.outcome(r, 422)) == {"DiagnosticReport.result[0]"}
    await nothing_stored(kit, refs)


async def test_only_resources_created_with_the_report_are_shared(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    clinic = {"X-Acting-Organization": refs["clinic"]}
    earlier = await kit.post(odi_observation(refs), **clinic)  # the clinic's own, visible to it
    earlier_ref = f"Observation/{earlier['id']}"
    bundle = transaction(report(refs) | {"result": [{"reference": earlier_ref}]},
                         odi_observation(refs))
    bundle["entry"][0]["resource"]["result"].append({"reference": bundle["entry"][1]["fullUrl"]})
    r = await kit.api.post("", json=bundle, headers=clinic)
    assert r.status_code == 200, r.text
    created = [e["response"]["location"].split("/_history")[0] for e in r.json()["entry"]]
    gp = {"X-Acting-Organization": refs["practice"]}
    for ref in created:
        assert (await kit.api.get(ref, headers=gp)).status_code == 200
    assert (await kit.api.get(earlier_ref, headers=gp)).status_code == 404
    # the message carries it all the same
    [message] = await statuses(kit, refs["task"])
    inside = {f"{e['resource']['resourceType']}/{e['resource']['id']}"
              for e in json.loads(message.row.body)["entry"]}
    assert {earlier_ref, *created} <= inside


# --- the message Bundle ----------------------------------------------------------------------


async def test_message_carries_what_the_report_references(kit: Kit) -> None:
    refs = await accepted_referral(kit)
    await act(kit, refs, "accepted")
    bundle = transaction(report(refs), odi_observation(refs))
    bundle["entry"][0]["resource"]["result"] = [{"reference": bundle["entry"][1]["fullUrl"]}]
    r = await kit.api.post("", json=bundle, headers={"X-Acting-Organization": refs["clinic"]})
    assert r.status_code == 200, r.text
    report_ref, obs_ref = (e["response"]["location"].split("/_history")[0]
                           for e in r.json()["entry"])
    [message] = await statuses(kit, refs["task"])
    body = json.loads(message.row.body)
    assert body["id"] == message.row.id
    assert body["identifier"] == {"system": "urn:ietf:rfc:3986",
                                  "value": f"urn:uuid:{message.row.id}"}
    refs_inside = [f"{e['resource']['resourceType']}/{e['resource']['id']}"
                   for e in body["entry"][1:]]
    role = (await kit.api.get(refs["role"])).json()
    assert refs_inside == [
        report_ref, obs_ref, refs["patient"], refs["referral"], refs["clinic"], refs["role"],
        role["practitioner"]["reference"], refs["practice"],
    ]
    assert [e["fullUrl"] for e in body["entry"][1:]] == [
        f"{kit.base}/{ref}" for ref in refs_inside
    ]
