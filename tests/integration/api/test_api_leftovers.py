"""Leftovers of the REST layer, on SQLite and PostgreSQL: JSON Patch results get the
reference checks of a PUT body, If-None-Exist reference values absolute on our base,
PUT after DELETE answered from the update itself, Task `authored-on` (search and `_sort`),
and PUT by an organisation on an id it cannot see (404, as a read)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from profiles import canonical
from service.demo.loader import load_demo
from service.store.db import Store
from service.store.model import SYSTEM, NewResource

from .conftest import BASE, Kit

PATCH = {"Content-Type": "application/json-patch+json"}
UNKNOWN = "7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11"
REASON = {"coding": [{"system": canonical.REJECTION_REASON, "code": "no-capacity"}]}
# The demo directory (service/demo/directory.json), as test_routing.py uses it.
P = "0b7c4e9e-5a3d-4f2b-8c1d-0000000000"
OSLO_PATIENT, ROLE = f"Patient/{P}01", f"PractitionerRole/{P}02"
OSLO, BERGEN, LILLESTROM = (f"Organization/{P}{n}" for n in ("03", "06", "09"))


async def role_at(kit: Kit) -> tuple[dict[str, Any], str, str]:
    """A PractitionerRole; the references of its practitioner and organisation."""
    doctor = await kit.post(kit.practitioner())
    practice = await kit.post(kit.organization("Legekontoret"))
    doctor_ref, org_ref = f"Practitioner/{doctor['id']}", f"Organization/{practice['id']}"
    return await kit.post(kit.practitioner_role(doctor_ref, org_ref)), doctor_ref, org_ref


def patch_op(path: str, value: Any) -> list[dict[str, Any]]:
    return [{"op": "replace", "path": path, "value": value}]


# 1. JSON Patch results: conditional references refused, our base made relative


async def test_patch_result_with_an_absolute_reference_on_our_base_is_stored_relative(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    role, _, _ = await role_at(kit)
    other = await kit.post(kit.organization("Annet legekontor"))
    absolute = f"{BASE}/Organization/{other['id']}"
    r = await api.patch(
        f"PractitionerRole/{role['id']}",
        json=patch_op("/organization/reference", absolute),
        headers=PATCH,
    )
    assert r.status_code == 200, r.text
    assert r.json()["organization"]["reference"] == f"Organization/{other['id']}"
    stored = (await api.get(f"PractitionerRole/{role['id']}")).json()
    assert stored["organization"]["reference"] == f"Organization/{other['id']}"
    query = {"organization": f"Organization/{other['id']}"}
    found = await api.get("PractitionerRole", params=query)
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [role["id"]]


async def test_patch_result_with_a_conditional_reference_is_400_and_changes_nothing(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    role, _, org_ref = await role_at(kit)
    conditional = f"Organization?identifier={canonical.NO_HER}|123456"
    r = await api.patch(
        f"PractitionerRole/{role['id']}",
        json=patch_op("/organization/reference", conditional),
        headers=PATCH,
    )
    issues = kit.outcome(r, 400)
    assert kit.expressions(issues) == {"PractitionerRole.organization.reference"}
    assert issues[0]["code"] == "not-supported"
    stored = (await api.get(f"PractitionerRole/{role['id']}")).json()
    assert stored["meta"]["versionId"] == "1"
    assert stored["organization"]["reference"] == org_ref


# 2. If-None-Exist with a reference value absolute on our base


async def test_if_none_exist_with_an_absolute_reference_on_our_base_matches_the_relative(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    _, doctor_ref, org_ref = await role_at(kit)
    absolute = f"practitioner={BASE}/{doctor_ref}&organization={BASE}/{org_ref}"
    relative = f"practitioner={doctor_ref}&organization={org_ref}"
    # role_at stored one role with these references: both spellings find it (200).
    for condition in (absolute, relative):
        r = await api.post(
            "PractitionerRole",
            json=kit.practitioner_role(doctor_ref, org_ref),
            headers={"If-None-Exist": condition},
        )
        assert r.status_code == 200, r.text
    assert await kit.count("PractitionerRole") == 1


async def test_if_none_exist_absolute_and_relative_share_one_claim(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    doctor = await kit.post(kit.practitioner())
    practice = await kit.post(kit.organization("Legekontoret"))
    doctor_ref, org_ref = f"Practitioner/{doctor['id']}", f"Organization/{practice['id']}"
    body = kit.practitioner_role(f"{BASE}/{doctor_ref}", org_ref)
    condition = {"If-None-Exist": f"practitioner={BASE}/{doctor_ref}"}
    first = await api.post("PractitionerRole", json=body, headers=condition)
    assert first.status_code == 201, first.text
    assert first.json()["practitioner"]["reference"] == doctor_ref
    again = await api.post(
        "PractitionerRole", json=body, headers={"If-None-Exist": f"practitioner={doctor_ref}"}
    )
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert await kit.count("PractitionerRole") == 1


# 4. PUT after DELETE: 201 from the update itself (no history read)


async def test_put_after_delete_is_201_then_200_and_in_a_transaction_too(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    created = await kit.post(kit.patient())
    path = f"Patient/{created['id']}"
    assert (await api.delete(path)).status_code == 204
    again = await api.put(path, json=created)
    assert again.status_code == 201, again.text
    assert again.headers["location"] == f"{BASE}/{path}/_history/3"
    assert (await api.put(path, json=created)).status_code == 200
    assert (await api.delete(path)).status_code == 204
    entry = {"resource": created, "request": {"method": "PUT", "url": path}}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    r = await api.post("", json=bundle)
    assert r.status_code == 200, r.text
    assert r.json()["entry"][0]["response"]["status"] == "201 Created"
    r = await api.post("", json=bundle)
    assert r.json()["entry"][0]["response"]["status"] == "200 OK"


async def test_update_reporting_tells_a_recreation(store: Store, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    async with store.begin(SYSTEM) as repo:
        plain = await repo.update_reporting("Patient", created["id"], created, frozenset())
        await repo.delete("Patient", created["id"])
        revived = await repo.update_reporting("Patient", created["id"], created, frozenset())
        after = await repo.update_reporting("Patient", created["id"], created, frozenset())
    assert (plain.recreated, revived.recreated, after.recreated) == (False, True, False)
    assert (plain.stored.version_id, revived.stored.version_id) == (2, 4)
    assert not hasattr(repo, "recreated")


# 5. Task authored-on: search, _sort, CapabilityStatement


async def test_capability_statement_lists_task_authored_on(api: httpx.AsyncClient) -> None:
    statement = (await api.get("metadata")).json()
    task = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Task")
    params = {p["name"]: p["type"] for p in task["searchParam"]}
    assert params["authored-on"] == "date"


async def test_task_chain_sorted_by_authored_on(store: Store, api: httpx.AsyncClient) -> None:
    focus = f"ServiceRequest/{UNKNOWN}"
    authored = ["2026-01-03T10:00:00+01:00", "2026-01-01T10:00:00+01:00", "2026-01-02T10:00:00Z"]
    items = [
        NewResource(
            {
                "resourceType": "Task",
                "id": f"00000000-0000-4000-8000-00000000000{i}",
                "status": "requested",
                "intent": "order",
                "focus": {"reference": focus},
                "authoredOn": when,
            }
        )
        for i, when in enumerate(authored)
    ]
    async with store.begin(SYSTEM) as repo:
        await repo.create_many(items)
    ascending = await api.get("Task", params={"focus": focus, "_sort": "authored-on"})
    assert ascending.status_code == 200, ascending.text
    order = [e["resource"]["authoredOn"] for e in ascending.json()["entry"]]
    assert order == [authored[1], authored[2], authored[0]]
    descending = await api.get("Task", params={"focus": focus, "_sort": "-authored-on"})
    assert [e["resource"]["authoredOn"] for e in descending.json()["entry"]] == order[::-1]
    since = await api.get("Task", params={"focus": focus, "authored-on": "ge2026-01-02"})
    assert since.json()["total"] == 2


async def test_rerouted_chain_in_order_by_authored_on(kit: Kit, api: httpx.AsyncClient) -> None:
    await load_demo(kit.store, kit.base)
    sr = await kit.post(kit.referral(OSLO_PATIENT, ROLE))
    referral = f"ServiceRequest/{sr['id']}"
    query = {"focus": referral, "_sort": "authored-on"}
    for _ in range(2):
        chain = [e["resource"] for e in (await api.get("Task", params=query)).json()["entry"]]
        task = chain[-1]
        body = {k: v for k, v in task.items() if k != "meta"}
        body |= {"status": "rejected", "statusReason": REASON}
        headers = {
            "X-Acting-Organization": task["owner"]["reference"],
            "If-Match": f'W/"{task["meta"]["versionId"]}"',
        }
        r = await api.put(f"Task/{task['id']}", json=body, headers=headers)
        assert r.status_code == 200, r.text
    chain = [e["resource"] for e in (await api.get("Task", params=query)).json()["entry"]]
    assert [t["owner"]["reference"] for t in chain] == [OSLO, LILLESTROM, BERGEN]
    assert [t["status"] for t in chain] == ["rejected", "rejected", "requested"]


# 6. PUT by an organisation on an id it cannot see: 404 (as a read), unknown or not


async def referral_task(kit: Kit) -> tuple[dict[str, str], dict[str, Any]]:
    refs = await kit.gp_and_clinic()
    sr = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    found = (await kit.api.get("Task", params={"focus": f"ServiceRequest/{sr['id']}"})).json()
    return refs, found["entry"][0]["resource"]


async def test_foreign_organisation_put_on_a_task_it_cannot_see_is_404(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    _, task = await referral_task(kit)
    stranger = await kit.post(kit.organization("Fremmed klinikk"))
    acting = {"X-Acting-Organization": f"Organization/{stranger['id']}", "If-Match": 'W/"1"'}
    body = {k: v for k, v in task.items() if k != "meta"} | {"status": "received"}
    hidden = await api.put(f"Task/{task['id']}", json=body, headers=acting)
    unknown = await api.put(f"Task/{UNKNOWN}", json=body | {"id": UNKNOWN}, headers=acting)
    read = await api.get(f"Task/{task['id']}", headers=acting)
    for r in (hidden, unknown, read):
        kit.outcome(r, 404)
    assert (await api.get(f"Task/{task['id']}")).json()["meta"]["versionId"] == "1"


async def test_organisation_put_on_an_unknown_or_hidden_resource_is_404(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()
    person = (await api.get(refs["patient"])).json()  # the system's: no organisation
    acting = {"X-Acting-Organization": refs["clinic"]}
    body = {k: v for k, v in person.items() if k != "meta"}
    kit.outcome(await api.put(refs["patient"], json=body, headers=acting), 404)
    kit.outcome(
        await api.put(f"Patient/{UNKNOWN}", json=body | {"id": UNKNOWN}, headers=acting), 404
    )
    entry = {"resource": body, "request": {"method": "PUT", "url": refs["patient"]}}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    kit.outcome(await api.post("", json=bundle, headers=acting), 404)


async def test_system_put_on_an_unknown_id_stays_405(api: httpx.AsyncClient, kit: Kit) -> None:
    body = kit.patient() | {"id": UNKNOWN}
    r = await api.put(f"Patient/{UNKNOWN}", json=body)
    kit.outcome(r, 405)
    _, task = await referral_task(kit)
    body = {k: v for k, v in task.items() if k != "meta"} | {"id": UNKNOWN}
    kit.outcome(await api.put(f"Task/{UNKNOWN}", json=body), 405)


async def test_a_patch_removing_the_last_item_of_an_array_drops_the_array(
        api: httpx.AsyncClient, kit: Any) -> None:
    """A diffing client's patch: the result's `[]` is dropped, as a FHIR parser drops it,
    rather than refused by FHIR's JSON rules (no empty arrays)."""
    created = await kit.post(kit.patient() | {"telecom": [{"system": "phone", "value": "1"}]})
    r = await api.patch(f"Patient/{created['id']}", headers=PATCH,
                        content=json.dumps([{"op": "remove", "path": "/telecom/0"}]))
    assert r.status_code == 200, r.text
    assert "telecom" not in r.json() and "telecom" not in (
        await api.get(f"Patient/{created['id']}")).json()
