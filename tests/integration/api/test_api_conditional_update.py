"""Conditional update, `PUT [type]?[criteria]` (http.html#cond-update), on SQLite and
PostgreSQL: one match is updated, none creates (race-free, like a conditional create),
several are 412; the body's id, If-Match and the caller's visibility are honoured, and a
refused request changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from profiles import canonical
from service.api import interactions
from service.store.db import Store
from service.store.model import SYSTEM, NewResource

from .conftest import FNR, Kit

CRITERIA = f"Patient?identifier={canonical.NO_FNR}|{FNR}"


def renamed(family: str, **more: Any) -> dict[str, Any]:
    from .conftest import patient

    return {**patient(family=family), **more}


async def test_no_match_creates_then_one_match_is_updated(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    first = await api.put(CRITERIA, json=renamed("Nordmann"))
    assert first.status_code == 201, first.text
    created = first.json()
    assert first.headers["location"].endswith(f"/Patient/{created['id']}/_history/1")
    second = await api.put(CRITERIA, json=renamed("Hansen"))
    assert second.status_code == 200, second.text
    updated = second.json()
    assert updated["id"] == created["id"] and updated["meta"]["versionId"] == "2"
    assert second.headers["etag"] == 'W/"2"'
    stored = (await api.get(f"Patient/{created['id']}")).json()
    assert stored["name"][0]["family"] == "Hansen"
    assert await kit.count("Patient") == 1


async def test_a_body_id_equal_to_the_match_is_accepted(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(kit.patient())
    r = await api.put(CRITERIA, json=renamed("Hansen", id=existing["id"]))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == existing["id"] and r.json()["name"][0]["family"] == "Hansen"


async def test_several_matches_are_412_and_change_nothing(api: httpx.AsyncClient, kit: Kit) -> None:
    await kit.post(kit.patient())
    await kit.post(kit.patient())
    issues = kit.outcome(await api.put(CRITERIA, json=renamed("Hansen")), 412)
    assert "conditional update matched 2" in issues[0]["diagnostics"]
    assert await kit.count("Patient", {"name": "Hansen"}) == 0


async def test_a_body_id_other_than_the_match_is_400(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(kit.patient())
    other = await kit.post(kit.patient("15076500565", "Annen"))
    issues = kit.outcome(await api.put(CRITERIA, json=renamed("Hansen", id=other["id"])), 400)
    assert kit.expressions(issues) == {"Patient.id"}
    for rid in (existing["id"], other["id"]):
        assert (await api.get(f"Patient/{rid}")).json()["meta"]["versionId"] == "1"


async def test_a_body_id_without_a_match_is_405_update_as_create(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    body = renamed("Hansen", id="7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11")
    issues = kit.outcome(await api.put(CRITERIA, json=body), 405)
    assert issues[0]["code"] == "not-supported"
    assert await kit.count("Patient") == 0


async def test_criteria_are_required_and_may_not_chain(api: httpx.AsyncClient, kit: Kit) -> None:
    kit.outcome(await api.put("Patient", json=renamed("Hansen")), 400)
    chained = "ServiceRequest?subject.identifier=x|y"
    r = await api.put(chained, json=kit.referral("Patient/1", "PractitionerRole/1"))
    assert kit.outcome(r, 400)[0]["code"] == "not-supported"
    assert await kit.count("Patient") == 0 and await kit.count("ServiceRequest") == 0


async def test_an_invalid_body_is_422_and_creates_nothing(api: httpx.AsyncClient, kit: Kit) -> None:
    body = renamed("Hansen", gender="unknown-gender")
    issues = kit.outcome(await api.put(CRITERIA, json=body), 422)
    assert "Patient.gender" in kit.expressions(issues)
    assert await kit.count("Patient") == 0


async def test_if_match_guards_the_matched_version(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(kit.patient())
    stale = await api.put(CRITERIA, json=renamed("Hansen"), headers={"If-Match": 'W/"9"'})
    kit.outcome(stale, 412)
    fresh = await api.put(CRITERIA, json=renamed("Hansen"), headers={"If-Match": 'W/"1"'})
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["id"] == existing["id"] and fresh.json()["meta"]["versionId"] == "2"


async def test_if_match_without_a_match_is_412_and_creates_nothing(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    kit.outcome(await api.put(CRITERIA, json=renamed("Hansen"), headers={"If-Match": "*"}), 412)
    assert await kit.count("Patient") == 0


async def test_eight_concurrent_conditional_updates_make_exactly_one(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    replies = await asyncio.gather(
        *(api.put(CRITERIA, json=renamed(f"Nordmann{i}")) for i in range(8))
    )
    assert sorted(r.status_code for r in replies) == [200] * 7 + [201], [r.text for r in replies]
    assert len({r.json()["id"] for r in replies}) == 1
    assert await kit.count("Patient") == 1
    stored = (await api.get(f"Patient/{replies[0].json()['id']}")).json()
    assert stored["meta"]["versionId"] == "8"


async def test_an_organisation_does_not_match_what_it_cannot_see(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()  # its patient holds FNR, created by the system
    acting = await kit.outsider()
    r = await api.put(CRITERIA, json=renamed("Hansen"), headers=acting)
    assert r.status_code == 201, r.text
    assert f"Patient/{r.json()['id']}" != refs["patient"]
    untouched = (await api.get(refs["patient"])).json()
    assert untouched["meta"]["versionId"] == "1" and untouched["name"][0]["family"] == "Nordmann"


async def test_a_referral_created_by_conditional_update_gets_its_task(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()
    referral = kit.referral(refs["patient"], refs["role"], refs["clinic"], identifier="R-77")
    r = await api.put(f"ServiceRequest?identifier={referral['identifier'][0]['system']}|R-77",
                      json=referral)
    assert r.status_code == 201, r.text
    tasks = (await api.get("Task", params={"focus": f"ServiceRequest/{r.json()['id']}"})).json()
    assert [e["resource"]["status"] for e in tasks["entry"]] == ["requested"]


async def test_empty_criteria_values_are_no_criteria(api: httpx.AsyncClient, kit: Kit) -> None:
    """`name=` would match every named patient: 400 in a conditional update and create."""
    existing = await kit.post(kit.patient())
    kit.outcome(await api.put("Patient?name=", json=renamed("Hansen")), 400)
    r = await api.post("Patient", json=renamed("Hansen"), headers={"If-None-Exist": "name="})
    kit.outcome(r, 400)
    assert (await api.get(f"Patient/{existing['id']}")).json()["meta"]["versionId"] == "1"
    assert await kit.count("Patient") == 1


async def test_a_task_is_never_created_by_conditional_update(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()
    referral = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    found = await api.get("Task", params={"focus": f"ServiceRequest/{referral['id']}"})
    task = {k: v for k, v in found.json()["entry"][0]["resource"].items() if k != "id"}
    issues = kit.outcome(await api.put("Task?status=completed", json=task), 405)
    assert "created by the service" in issues[0]["diagnostics"]
    assert await kit.count("Task") == 1


async def test_the_capability_statement_says_so(api: httpx.AsyncClient) -> None:
    rest = (await api.get("metadata")).json()["rest"][0]
    flags = {r["type"]: r["conditionalUpdate"] for r in rest["resource"]}
    assert flags["Patient"] is True and set(flags.values()) == {True}


async def test_a_body_that_does_not_match_its_criteria_is_400(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """Else it would claim criteria that do not find it, and block them (HAPI refuses it)."""
    other = f"Patient?identifier={canonical.NO_FNR}|15076500565"
    issues = kit.outcome(await api.put(other, json=renamed("Hansen")), 400)
    assert issues[0]["code"] == "invariant"
    assert await kit.count("Patient") == 0
    r = await api.post("Patient", json=renamed("Hansen"),
                       headers={"If-None-Exist": other.partition("?")[2]})
    kit.outcome(r, 400)
    assert await kit.count("Patient") == 0
    assert (await api.put(CRITERIA, json=renamed("Hansen"))).status_code == 201


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite: one writer
async def test_a_conditional_update_waits_for_the_criteria_lock_then_finds_the_match(
    api: httpx.AsyncClient, kit: Kit, store: Store
) -> None:
    """A request with the same criteria that is still writing holds them: the conditional
    update waits, then finds and updates what it wrote, even though an update drops the
    criteria's claim row (the race the claim alone let through: two Patients)."""
    key = interactions.claim_key(interactions.conditional("Patient", CRITERIA, 2))
    made = {**renamed("Nordmann"), "id": "7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11"}
    async with store.begin(SYSTEM) as repo:
        await repo.serialise_claims([("Patient", key)])
        pending = asyncio.ensure_future(api.put(CRITERIA, json=renamed("Hansen")))
        await asyncio.sleep(0.5)
        assert not pending.done()
        await repo.create_many([NewResource(made)])  # no claim row: only the lock holds
    r = await pending
    assert r.status_code == 200, r.text
    assert r.json()["id"] == made["id"] and r.json()["name"][0]["family"] == "Hansen"
    assert await kit.count("Patient") == 1


async def test_criteria_claimed_by_a_resource_the_caller_cannot_see_are_409(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """The system created it under these criteria (it holds their claim); an organisation
    that cannot see it would create a second: 409, saying nothing of the holder."""
    held = await api.put(CRITERIA, json=renamed("Nordmann"))
    assert held.status_code == 201, held.text
    acting = await kit.outsider()
    issues = kit.outcome(await api.put(CRITERIA, json=renamed("Hansen"), headers=acting), 409)
    assert issues[0]["code"] == "duplicate" and held.json()["id"] not in str(issues)
    assert await kit.count("Patient") == 1
