"""Task lifecycle over the API, on SQLite and PostgreSQL: the clinic (owner) and the GP
(requester) act with PUT or JSON Patch and If-Match; the status machine is enforced and a
refusal changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from profiles import canonical

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
    ids=["receive-accept-start-complete", "hold-and-resume", "fail-by-system"],
)
async def test_legal_paths_write_one_version_each(kit: Kit, path: list[str]) -> None:
    refs, task = await referral_task(kit)
    for status in path:
        who = None if status == "failed" else refs["clinic"]
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
