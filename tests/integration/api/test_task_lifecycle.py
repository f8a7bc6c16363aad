"""Task lifecycle over the API, on SQLite and PostgreSQL: the clinic (owner) and the GP
(requester) act with PUT or JSON Patch and If-Match; the status machine is enforced and a
refusal changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from profiles import canonical
from service.store.model import SYSTEM, NewResource

from .conftest import Kit

PATCH = {"Content-Type": "application/json-patch+json"}
REJECTED = {
    "coding": [{"system": canonical.REJECTION_REASON, "code": "no-capacity"}],
    "text": "fully booked",
}


async def referral_task(kit: Kit) -> tuple[dict[str, str], dict[str, Any]]:
    refs = await kit.gp_and_clinic()
    sr = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    found = (await kit.api.get("Task", params={"focus": f"ServiceRequest/{sr['id']}"})).json()
    return refs | {"referral": f"ServiceRequest/{sr['id']}"}, found["entry"][0]["resource"]


def acting(org: str, version: str | int | None = None, **more: str) -> dict[str, str]:
    headers = {"X-Acting-Organization": org, **more}
    if version is not None:
        headers["If-Match"] = f'W/"{version}"'
    return headers


async def put(kit: Kit, task: dict[str, Any], org: str | None, **changes: Any) -> httpx.Response:
    body = {k: v for k, v in task.items() if k != "meta"} | changes
    headers = acting(org, task["meta"]["versionId"]) if org else {}
    return await kit.api.put(f"Task/{task['id']}", json=body, headers=headers)


async def status_of(kit: Kit, task_id: str) -> tuple[str, str]:
    now = (await kit.api.get(f"Task/{task_id}")).json()
    return now["status"], now["meta"]["versionId"]


@pytest.mark.parametrize(
    "path",
    [
        ["received", "accepted", "in-progress", "completed"],
        ["accepted", "in-progress", "on-hold", "in-progress", "completed"],
        ["received", "accepted", "in-progress", "failed"],
    ],
    ids=["receive-accept-start-complete-by-system", "hold-and-resume", "fail-by-system"],
)
async def test_legal_paths_write_one_version_each(kit: Kit, path: list[str]) -> None:
    """The clinic moves the Task; only the system completes it (the feedback intake, see
    test_feedback.py) or fails it."""
    refs, task = await referral_task(kit)
    for status in path:
        who = None if status in ("completed", "failed") else refs["clinic"]
        r = await put(kit, task, who, status=status)
        assert r.status_code == 200, r.text
        task = r.json()
        assert task["status"] == status and "lastModified" in task
    history = (await kit.api.get(f"Task/{task['id']}/_history")).json()
    assert history["total"] == len(path) + 1


async def test_requester_cancels(kit: Kit) -> None:
    refs, task = await referral_task(kit)
    r = await put(kit, task, refs["practice"], status="cancelled")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


async def test_illegal_transition_is_409_and_changes_nothing(kit: Kit) -> None:
    refs, task = await referral_task(kit)
    issues = kit.outcome(await put(kit, task, refs["clinic"], status="completed"), 409)
    assert kit.expressions(issues) == {"Task.status"}
    assert await status_of(kit, task["id"]) == ("requested", "1")


async def test_immutable_element_is_422_with_its_expression(kit: Kit) -> None:
    refs, task = await referral_task(kit)
    r = await put(kit, task, refs["clinic"], status="accepted", priority="urgent")
    assert kit.expressions(kit.outcome(r, 422)) == {"Task.priority"}
    assert await status_of(kit, task["id"]) == ("requested", "1")


async def test_wrong_party_is_403_and_changes_nothing(kit: Kit) -> None:
    refs, task = await referral_task(kit)
    kit.outcome(await put(kit, task, refs["practice"], status="accepted"), 403)  # GP accepts
    kit.outcome(await put(kit, task, refs["clinic"], status="cancelled"), 403)  # clinic cancels
    assert await status_of(kit, task["id"]) == ("requested", "1")


async def test_foreign_organisation_cannot_see_or_change_the_task(kit: Kit) -> None:
    _, task = await referral_task(kit)
    stranger = await kit.post(kit.organization("Annen klinikk"))
    foreign = f"Organization/{stranger['id']}"
    # Isolation: not yours is the same as absent (STYLE.md 2): PUT, PATCH and GET all 404.
    kit.outcome(await put(kit, task, foreign, status="accepted"), 404)
    ops = [{"op": "replace", "path": "/status", "value": "accepted"}]
    headers = acting(foreign, 1, **PATCH)
    r = await kit.api.patch(f"Task/{task['id']}", content=_json(ops), headers=headers)
    kit.outcome(r, 404)
    kit.outcome(await kit.api.get(f"Task/{task['id']}", headers=acting(foreign)), 404)
    assert await status_of(kit, task["id"]) == ("requested", "1")


async def test_stale_or_missing_if_match_is_412(kit: Kit) -> None:
    refs, task = await referral_task(kit)
    body = {k: v for k, v in task.items() if k != "meta"} | {"status": "accepted"}
    stale = acting(refs["clinic"], 7)
    kit.outcome(await kit.api.put(f"Task/{task['id']}", json=body, headers=stale), 412)
    bare = acting(refs["clinic"])
    kit.outcome(await kit.api.put(f"Task/{task['id']}", json=body, headers=bare), 412)
    assert await status_of(kit, task["id"]) == ("requested", "1")


async def test_json_patch_accepts(kit: Kit) -> None:
    refs, task = await referral_task(kit)
    ops = [{"op": "test", "path": "/status", "value": "requested"},
           {"op": "replace", "path": "/status", "value": "accepted"}]
    headers = acting(refs["clinic"], 1, **PATCH)
    r = await kit.api.patch(f"Task/{task['id']}", content=_json(ops), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.headers["etag"] == 'W/"2"'


@pytest.mark.parametrize(
    ("ops", "status"),
    [
        ({"op": "replace"}, 400),
        ([{"op": "jump", "path": "/status"}], 400),
        ([{"op": "test", "path": "/status", "value": "accepted"}], 422),
        ([{"op": "remove", "path": "/nothing"}], 422),
        ([{"op": "replace", "path": "/status", "value": "completed"}], 409),
        ([{"op": "remove", "path": "/intent"}], 422),
    ],
    ids=["not-a-list", "unknown-op", "failed-test", "missing-path", "illegal", "invalid-result"],
)
async def test_bad_patch_changes_nothing(kit: Kit, ops: Any, status: int) -> None:
    refs, task = await referral_task(kit)
    headers = acting(refs["clinic"], 1, **PATCH)
    r = await kit.api.patch(f"Task/{task['id']}", content=_json(ops), headers=headers)
    kit.outcome(r, status)
    assert await status_of(kit, task["id"]) == ("requested", "1")


async def test_patch_other_types_and_media_type(kit: Kit) -> None:
    patient = await kit.post(kit.patient())
    ops = [{"op": "add", "path": "/gender", "value": "female"}]
    r = await kit.api.patch(f"Patient/{patient['id']}", content=_json(ops), headers=PATCH)
    assert r.status_code == 200 and r.json()["gender"] == "female"
    plain = {"Content-Type": "application/fhir+json"}
    r = await kit.api.patch(f"Patient/{patient['id']}", content=_json(ops), headers=plain)
    kit.outcome(r, 415)


async def test_rejection_needs_a_reason(kit: Kit) -> None:
    refs, task = await referral_task(kit)
    r = await put(kit, task, refs["clinic"], status="rejected")
    kit.outcome(r, 422)
    assert await status_of(kit, task["id"]) == ("requested", "1")


async def test_capability_statement_lists_patch(kit: Kit) -> None:
    cs = (await kit.api.get("metadata")).json()
    task = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Task")
    assert {"code": "patch"} in task["interaction"]
    assert any(op["name"] == "delivery-status" for op in task["operation"])


def _json(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value)


# --- complete is the feedback intake's; businessStatus and output are the service's -------


async def started_task(kit: Kit) -> tuple[dict[str, str], dict[str, Any]]:
    """A referral whose Task the clinic accepted and started (in-progress, version 3)."""
    refs, task = await referral_task(kit)
    for status in ("accepted", "in-progress"):
        r = await put(kit, task, refs["clinic"], status=status)
        assert r.status_code == 200, r.text
        task = r.json()
    return refs, task


async def unchanged(kit: Kit, task: dict[str, Any]) -> None:
    now = (await kit.api.get(f"Task/{task['id']}")).json()
    assert now["meta"]["versionId"] == task["meta"]["versionId"]
    assert {k: v for k, v in now.items() if k != "meta"} == {
        k: v for k, v in task.items() if k != "meta"
    }


async def test_clinic_cannot_complete_a_task_by_put_or_patch(kit: Kit) -> None:
    refs, task = await started_task(kit)
    issues = kit.outcome(await put(kit, task, refs["clinic"], status="completed"), 403)
    assert kit.expressions(issues) == {"Task.status"}
    assert "may not complete" in issues[0]["diagnostics"]
    ops = [{"op": "replace", "path": "/status", "value": "completed"}]
    headers = acting(refs["clinic"], task["meta"]["versionId"], **PATCH)
    r = await kit.api.patch(f"Task/{task['id']}", content=_json(ops), headers=headers)
    assert kit.expressions(kit.outcome(r, 403)) == {"Task.status"}
    kit.outcome(await put(kit, task, refs["practice"], status="completed"), 403)  # nor the GP
    await unchanged(kit, task)


OUTPUT = [{"type": {"text": "Assessment feedback"}, "valueString": "all done"}]
BUSINESS = {"text": "booked for 3 December"}


@pytest.mark.parametrize(
    ("element", "value"), [("output", OUTPUT), ("businessStatus", BUSINESS)]
)
async def test_clinic_cannot_set_output_or_business_status(
    kit: Kit, element: str, value: Any
) -> None:
    refs, task = await started_task(kit)
    r = await put(kit, task, refs["clinic"], **{element: value})
    assert kit.expressions(kit.outcome(r, 422)) == {f"Task.{element}"}
    ops = [{"op": "add", "path": f"/{element}", "value": value}]
    headers = acting(refs["clinic"], task["meta"]["versionId"], **PATCH)
    r = await kit.api.patch(f"Task/{task['id']}", content=_json(ops), headers=headers)
    assert kit.expressions(kit.outcome(r, 422)) == {f"Task.{element}"}
    r = await put(kit, task, refs["clinic"], status="on-hold", **{element: value})
    assert kit.expressions(kit.outcome(r, 422)) == {f"Task.{element}"}
    await unchanged(kit, task)


# --- a closed Task takes no client change ---------------------------------------------------


def closed_outcome(kit: Kit, response: httpx.Response) -> None:
    issues = kit.outcome(response, 409)
    assert [(i["code"], i["expression"]) for i in issues] == [("business-rule", ["Task.status"])]
    assert "the Task is closed" in issues[0]["diagnostics"]


async def test_rejecting_clinic_cannot_overwrite_its_rejected_task(kit: Kit) -> None:
    refs, task = await referral_task(kit)
    r = await put(kit, task, refs["clinic"], status="rejected", statusReason=REJECTED)
    assert r.status_code == 200, r.text
    rejected = (await kit.api.get(f"Task/{task['id']}")).json()
    assert rejected["businessStatus"]["coding"][0]["code"] == "escalated"  # no clinic left
    other = {"coding": [{"system": canonical.BUSINESS_STATUS, "code": "awaiting-feedback"}]}
    closed_outcome(kit, await put(kit, rejected, refs["clinic"], businessStatus=other))
    ops = [{"op": "remove", "path": "/businessStatus"}]
    headers = acting(refs["clinic"], rejected["meta"]["versionId"], **PATCH)
    closed_outcome(kit, await kit.api.patch(f"Task/{task['id']}", content=_json(ops),
                                            headers=headers))
    closed_outcome(kit, await put(kit, rejected, refs["clinic"], status="accepted"))
    closed_outcome(kit, await put(kit, rejected, refs["clinic"]))  # not even an identical PUT
    await unchanged(kit, rejected)


@pytest.mark.parametrize("status", ["cancelled", "failed"])
async def test_cancelled_or_failed_task_takes_no_change(kit: Kit, status: str) -> None:
    refs, task = await referral_task(kit)
    who = refs["practice"] if status == "cancelled" else None
    r = await put(kit, task, who, status=status)
    assert r.status_code == 200, r.text
    done = r.json()
    note = [{"text": "reopen please"}]
    closed_outcome(kit, await put(kit, done, refs["practice"], note=note))
    closed_outcome(kit, await put(kit, done, refs["practice"], status="requested"))
    closed_outcome(kit, await put(kit, done, None, note=note))  # the system caller too
    await unchanged(kit, done)


# --- DELETE: close the Task instead -----------------------------------------------------------


@pytest.mark.parametrize("who", ["system", "clinic", "practice"])
async def test_delete_of_a_task_or_its_referral_is_405(kit: Kit, who: str) -> None:
    refs, task = await referral_task(kit)
    headers = {} if who == "system" else acting(refs[who])
    for path in (f"Task/{task['id']}", refs["referral"]):
        r = await kit.api.delete(path, headers=headers)
        issues = kit.outcome(r, 405)
        assert issues[0]["code"] == "not-supported"
        assert "cancelled" in issues[0]["diagnostics"]
        assert "DELETE" not in r.headers["allow"] and "GET" in r.headers["allow"]
        assert (await kit.api.get(path)).status_code == 200
    await unchanged(kit, task)
    referral = (await kit.api.get(refs["referral"])).json()
    # the identity claim is kept: a replay of the referral is still the stored one
    body = {k: v for k, v in referral.items() if k not in ("id", "meta")}
    again = await kit.api.post("ServiceRequest", json=body)
    assert (again.status_code, again.json()["id"]) == (200, referral["id"])


async def test_delete_entries_for_a_task_or_referral_fail_the_transaction(kit: Kit) -> None:
    refs, task = await referral_task(kit)
    patient = refs["patient"]
    for path in (f"Task/{task['id']}", refs["referral"]):
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"request": {"method": "DELETE", "url": patient}},
            {"request": {"method": "DELETE", "url": path}},
        ]}
        issues = kit.outcome(await kit.api.post("", json=bundle), 405)
        assert "cancelled" in issues[0]["diagnostics"]
        assert kit.expressions(issues) <= {"Bundle.entry[1]"}
        batch = bundle | {"type": "batch", "entry": bundle["entry"][1:]}
        r = await kit.api.post("", json=batch)
        assert r.json()["entry"][0]["response"]["status"].startswith("405")
    for path in (f"Task/{task['id']}", refs["referral"], patient):
        assert (await kit.api.get(path)).status_code == 200  # nothing deleted
    await unchanged(kit, task)


async def test_a_service_request_that_is_no_referral_can_still_be_deleted(kit: Kit) -> None:
    refs, _ = await referral_task(kit)
    rid = str(uuid.uuid4())
    plain = kit.referral(refs["patient"], refs["role"], refs["clinic"]) | {"id": rid}
    async with kit.store.begin(SYSTEM) as repo:  # stored without a ReferralTask
        await repo.create_many([NewResource(plain)])
    assert (await kit.api.delete(f"ServiceRequest/{rid}")).status_code == 204
    assert (await kit.api.delete(f"ServiceRequest/{rid}")).status_code == 204  # idempotent


async def test_capability_statement_lists_no_delete_for_task_and_service_request(
    kit: Kit,
) -> None:
    cs = (await kit.api.get("metadata")).json()
    codes = {r["type"]: {i["code"] for i in r["interaction"]} for r in cs["rest"][0]["resource"]}
    assert "delete" not in codes["Task"] and "delete" not in codes["ServiceRequest"]
    assert {"update", "patch", "read"} <= codes["Task"]
    assert "delete" in codes["Patient"]


async def test_conditional_patch_of_a_task_follows_its_status_machine(kit: Kit) -> None:
    """`PATCH Task?focus=...`: the clinic needs If-Match as on `Task/{id}`, may accept, and
    may not jump to completed (the feedback's to set)."""
    refs, task = await referral_task(kit)
    url = f"Task?{task['focus']['reference'].replace('ServiceRequest/', 'focus=ServiceRequest/')}"
    accept = [{"op": "replace", "path": "/status", "value": "accepted"}]
    kit.outcome(await kit.api.patch(url, content=_json(accept),
                                    headers=acting(refs["clinic"], **PATCH)), 412)
    complete = [{"op": "replace", "path": "/status", "value": "completed"}]
    kit.outcome(await kit.api.patch(url, content=_json(complete),
                                    headers=acting(refs["clinic"], 1, **PATCH)), 409)
    assert await status_of(kit, task["id"]) == ("requested", "1")
    r = await kit.api.patch(url, content=_json(accept), headers=acting(refs["clinic"], 1, **PATCH))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == task["id"] and r.json()["status"] == "accepted"
