"""Conditional updates as Bundle entries (`request: PUT Patient?identifier=...`,
http.html#cond-update and #transaction), on SQLite and PostgreSQL: the entry's search runs
inside the transaction; one match is updated and the other entries' references to its
fullUrl point at it, none creates, and every refusal leaves the store as it was."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from profiles import canonical
from service.api import interactions
from service.store.db import Store
from service.store.errors import Deadlocked
from service.store.model import SYSTEM
from service.store.repository import Repository

from .conftest import Kit, patient

PAT = "urn:uuid:0f5e8a2e-1111-4d6c-9b1a-2f0e5b7c9a01"
FNR = "15076500565"  # not the patient gp_and_clinic makes
BY_FNR = f"Patient?identifier={canonical.NO_FNR}|{FNR}"


def put(resource: dict[str, Any], url: str, full_url: str | None = None,
        **request: str) -> dict[str, Any]:
    out: dict[str, Any] = {"resource": resource,
                           "request": {"method": "PUT", "url": url, **request}}
    return out | ({"fullUrl": full_url} if full_url else {})


def bundle(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def person(family: str, **more: Any) -> dict[str, Any]:
    return {**patient(FNR, family), **more}


async def referral_and_patient(kit: Kit, family: str, identifier: str) -> dict[str, Any]:
    refs = await kit.gp_and_clinic()
    referral = kit.referral(PAT, refs["role"], refs["clinic"], identifier=identifier)
    return bundle(
        {"resource": referral, "request": {"method": "POST", "url": "ServiceRequest"}},
        put(person(family), BY_FNR, PAT),
    )


def statuses(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["response"]["status"] for e in response.json()["entry"]]


async def test_transaction_creates_then_updates_the_match_and_points_references_at_it(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    first = await api.post("", json=await referral_and_patient(kit, "Nordmann", "C-1"))
    assert statuses(first) == ["201 Created", "201 Created"]
    referral, created = (e["resource"] for e in first.json()["entry"])
    assert referral["subject"]["reference"] == f"Patient/{created['id']}"
    assert first.json()["entry"][1]["response"]["location"] == f"Patient/{created['id']}/_history/1"

    second = await api.post("", json=await referral_and_patient(kit, "Hansen", "C-2"))
    assert statuses(second) == ["201 Created", "200 OK"]
    referral, updated = (e["resource"] for e in second.json()["entry"])
    assert updated["id"] == created["id"] and updated["meta"]["versionId"] == "2"
    assert referral["subject"]["reference"] == f"Patient/{created['id']}"
    stored = (await api.get(f"Patient/{created['id']}")).json()
    assert stored["name"][0]["family"] == "Hansen"
    assert await kit.count("Patient", {"identifier": f"{canonical.NO_FNR}|{FNR}"}) == 1


async def test_several_matches_fail_the_transaction_with_412(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    await kit.post(person("A"))
    await kit.post(person("B"))
    r = await api.post("", json=bundle(put(person("Hansen"), BY_FNR)))
    issues = kit.outcome(r, 412)
    assert issues[0]["expression"] == ["Bundle.entry[0]"]
    assert await kit.count("Patient", {"name": "Hansen"}) == 0


async def test_a_body_id_other_than_the_match_is_400_at_the_entry(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    await kit.post(person("A"))
    other = await kit.post(kit.patient())
    r = await api.post("", json=bundle(put(person("Hansen", id=other["id"]), BY_FNR)))
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[0].resource.id"}
    assert await kit.count("Patient", {"name": "Hansen"}) == 0


async def test_a_body_id_without_a_match_is_405(api: httpx.AsyncClient, kit: Kit) -> None:
    body = person("Hansen", id="7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11")
    kit.outcome(await api.post("", json=bundle(put(body, BY_FNR))), 405)
    assert await kit.count("Patient") == 0


async def test_a_match_that_another_entry_writes_is_400(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(person("A"))
    plain = put(person("B", id=existing["id"]), f"Patient/{existing['id']}")
    r = await api.post("", json=bundle(plain, put(person("C"), BY_FNR)))
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[1].request.url"}
    assert (await api.get(f"Patient/{existing['id']}")).json()["meta"]["versionId"] == "1"


async def test_if_match_guards_the_match(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(person("A"))
    stale = await api.post("", json=bundle(put(person("B"), BY_FNR, ifMatch='W/"3"')))
    kit.outcome(stale, 412)
    fresh = await api.post("", json=bundle(put(person("B"), BY_FNR, ifMatch='W/"1"')))
    assert statuses(fresh) == ["200 OK"]
    assert fresh.json()["entry"][0]["resource"]["id"] == existing["id"]


async def test_batch_entries_answer_each_alone(api: httpx.AsyncClient, kit: Kit) -> None:
    r = await api.post("", json=bundle(put(person("A"), BY_FNR), kind="batch"))
    assert statuses(r) == ["201 Created"]
    r = await api.post("", json=bundle(put(person("B"), BY_FNR),
                                       put(person("C"), "Patient?name="), kind="batch"))
    assert statuses(r)[0] == "200 OK" and statuses(r)[1].startswith("400")
    assert await kit.count("Patient", {"name": "B"}) == 1


async def test_a_plain_put_entry_ignores_an_if_none_exist(api: httpx.AsyncClient, kit: Kit) -> None:
    """ifNoneExist belongs to POST; a PUT entry with one updates its url as before."""
    existing = await kit.post(person("A"))
    url = f"Patient/{existing['id']}"
    r = await api.post("", json=bundle(put(person("B", id=existing["id"]), url,
                                           ifNoneExist=BY_FNR.partition("?")[2])))
    assert statuses(r) == ["200 OK"]
    assert (await api.get(url)).json()["name"][0]["family"] == "B"


async def test_two_entries_with_the_same_criteria_are_400(api: httpx.AsyncClient, kit: Kit) -> None:
    criteria = BY_FNR.partition("?")[2]
    twice = bundle(put(person("A"), BY_FNR), put(person("B"), f"Patient?{criteria}"))
    assert kit.expressions(kit.outcome(await api.post("", json=twice), 400)) == {
        "Bundle.entry[1].request.url"}
    post = {"resource": person("C"),
            "request": {"method": "POST", "url": "Patient", "ifNoneExist": criteria}}
    mixed = bundle(post, put(person("D"), BY_FNR))
    kit.outcome(await api.post("", json=mixed), 400)
    assert await kit.count("Patient") == 0


async def test_a_match_that_a_delete_entry_removes_is_400(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(person("A"))
    url = f"Patient/{existing['id']}"
    gone = {"request": {"method": "DELETE", "url": url}}
    r = await api.post("", json=bundle(gone, put(person("B"), BY_FNR)))
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[1].request.url"}
    assert (await api.get(url)).status_code == 200
    assert await kit.count("Patient") == 1


async def test_criteria_naming_a_matched_entry_search_its_match(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """`subject=urn:uuid:...` of an entry that matched searches that match, run after run."""
    refs = await kit.gp_and_clinic()
    first = await api.post("", json=await referral_and_patient(kit, "Nordmann", "C-9"))
    patient_id = first.json()["entry"][1]["resource"]["id"]
    referral = kit.referral(PAT, refs["role"], refs["clinic"], identifier="C-9")
    system = referral["identifier"][0]["system"]
    again = bundle(put(referral, f"ServiceRequest?identifier={system}|C-9&subject={PAT}"),
                   put(person("Hansen"), BY_FNR, PAT))
    r = await api.post("", json=again)
    assert statuses(r) == ["200 OK", "200 OK"]
    referral_out, patient_out = (e["resource"] for e in r.json()["entry"])
    assert patient_out["id"] == patient_id
    assert referral_out["id"] == first.json()["entry"][0]["resource"]["id"]
    assert referral_out["subject"]["reference"] == f"Patient/{patient_id}"
    assert await kit.count("ServiceRequest", {"identifier": f"{system}|C-9"}) == 1


def post(resource: dict[str, Any], full_url: str | None = None, **request: str) -> dict[str, Any]:
    out: dict[str, Any] = {"resource": resource,
                           "request": {"method": "POST", "url": resource["resourceType"],
                                       **request}}
    return out | ({"fullUrl": full_url} if full_url else {})


async def test_two_if_none_exist_entries_that_match_both_answer_the_match(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    existing = await kit.post(person("A"))
    criteria = BY_FNR.partition("?")[2]
    r = await api.post("", json=bundle(post(person("B"), ifNoneExist=criteria),
                                       post(person("C"), ifNoneExist=criteria)))
    assert statuses(r) == ["200 OK", "200 OK"]
    assert {e["resource"]["id"] for e in r.json()["entry"]} == {existing["id"]}


async def test_an_if_none_exist_beside_a_plain_create_of_the_same_identifier(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """The plain create may match the criteria too: the conditional one is still found."""
    r = await api.post("", json=bundle(post(person("A"), ifNoneExist=BY_FNR.partition("?")[2]),
                                       post(person("B"))))
    assert statuses(r) == ["201 Created", "201 Created"]


async def test_criteria_naming_an_if_none_exist_match_search_that_match(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """Find the patient (ifNoneExist), upsert the referral about it (conditional update)."""
    refs = await kit.gp_and_clinic()
    existing = await kit.post(person("A"))
    referral = kit.referral(PAT, refs["role"], refs["clinic"], identifier="C-11")
    system = referral["identifier"][0]["system"]
    upsert = put(referral, f"ServiceRequest?identifier={system}|C-11&subject={PAT}")
    find = post(person("B"), PAT, ifNoneExist=BY_FNR.partition("?")[2])
    first = await api.post("", json=bundle(upsert, find))
    assert statuses(first) == ["201 Created", "200 OK"]
    made = first.json()["entry"][0]["resource"]
    assert made["subject"]["reference"] == f"Patient/{existing['id']}"
    again = await api.post("", json=bundle(upsert, find))
    assert statuses(again) == ["200 OK", "200 OK"]
    assert again.json()["entry"][0]["resource"]["id"] == made["id"]
    assert await kit.count("ServiceRequest", {"identifier": f"{system}|C-11"}) == 1


async def test_criteria_that_name_each_other_are_400(api: httpx.AsyncClient, kit: Kit) -> None:
    a, b = (f"urn:uuid:0f5e8a2e-{n}-4d6c-9b1a-2f0e5b7c9a05" for n in ("5555", "6666"))
    head = {"resourceType": "Organization", "name": "Hode"}
    branch = {"resourceType": "Organization", "name": "Gren"}
    r = await api.post("", json=bundle(
        put(head, f"Organization?name=Hode&partof={b}", a),
        put(branch, f"Organization?name=Gren&partof={a}", b),
    ))
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[0].request"}
    assert await kit.count("Organization", {"name": "Hode"}) == 0


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite: one writer
async def test_criteria_known_only_after_a_search_wait_for_their_lock(
    api: httpx.AsyncClient, kit: Kit, store: Store
) -> None:
    """Their lock cannot be taken up front; held elsewhere, the transaction starts again
    with it locked up front, waits, and then finds what the holder wrote."""
    refs = await kit.gp_and_clinic()
    existing = await kit.post(person("A"))
    referral = kit.referral(PAT, refs["role"], refs["clinic"], identifier="C-13")
    system = referral["identifier"][0]["system"]
    final = f"ServiceRequest?identifier={system}|C-13&subject=Patient/{existing['id']}"
    key = interactions.claim_key(interactions.conditional("ServiceRequest", final, 2))
    upsert = put(referral, f"ServiceRequest?identifier={system}|C-13&subject={PAT}")
    find = post(person("B"), PAT, ifNoneExist=BY_FNR.partition("?")[2])
    async with store.begin(SYSTEM) as repo:
        await repo.serialise_claims([("ServiceRequest", key)])
        pending = asyncio.ensure_future(api.post("", json=bundle(upsert, find)))
        await asyncio.sleep(0.5)
        assert not pending.done()
    r = await pending
    assert statuses(r) == ["201 Created", "200 OK"]


async def test_criteria_naming_their_own_full_url_are_400(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """They could never find what the entry writes: each resend would make another."""
    me = "urn:uuid:0f5e8a2e-7777-4d6c-9b1a-2f0e5b7c9a07"
    body = {"resourceType": "Organization", "name": "Hode"}
    r = await api.post("", json=bundle(put(body, f"Organization?name=Hode&partof={me}", me)))
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[0].request"}
    assert await kit.count("Organization", {"name": "Hode"}) == 0


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite: one writer
async def test_bundles_updating_rows_in_opposite_orders_all_land(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """Each transaction locks the rows it changes up front, in (type, id) order
    (`Repository.lock_rows`), so crosswise Bundles queue instead of deadlocking."""
    one, two = await kit.post(person("A")), await kit.post(kit.patient())

    def both(first: dict[str, Any], second: dict[str, Any], n: int) -> dict[str, Any]:
        return bundle(*(put({**p, "name": [{"family": f"N{n}"}]}, f"Patient/{p['id']}")
                        for p in (first, second)))

    pairs = [(both(one, two, n), both(two, one, n)) for n in range(8)]
    replies = await asyncio.gather(*(api.post("", json=b) for pair in pairs for b in pair))
    assert [r.status_code for r in replies] == [200] * 16, [r.text[:300] for r in replies]
    for p in (one, two):
        assert (await api.get(f"Patient/{p['id']}")).json()["meta"]["versionId"] == "17"


async def test_a_bundle_of_many_criteria_creates_then_finds_each(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """Over 32 criteria take one class-wide lock on PostgreSQL instead of one per key."""
    clinics = [post(kit.organization(f"Klinikk {n}", her_id=f"77{n:04d}"),
                    ifNoneExist=f"identifier={canonical.NO_HER}|77{n:04d}") for n in range(40)]
    assert statuses(await api.post("", json=bundle(*clinics))) == ["201 Created"] * 40
    assert statuses(await api.post("", json=bundle(*clinics))) == ["200 OK"] * 40
    assert await kit.count("Organization", {"name": "Klinikk"}) == 40


async def test_a_deadlocked_transaction_runs_again_then_answers_409(
    api: httpx.AsyncClient, kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's deadlock victim (`Deadlocked`) is re-run twice, then 409 lock-error;
    each attempt rolled back, so the one that lands writes once."""
    one, two = await kit.post(person("A")), await kit.post(kit.patient())
    real, calls = Repository.lock_rows, []

    async def deadlocking(self: Repository, refs: Any) -> None:
        calls.append(1)
        if len(calls) <= failures:
            raise Deadlocked()
        await real(self, refs)

    monkeypatch.setattr(Repository, "lock_rows", deadlocking)
    crosswise = bundle(*(put({**p, "name": [{"family": "X"}]}, f"Patient/{p['id']}")
                         for p in (one, two)))
    failures = 2
    assert statuses(await api.post("", json=crosswise)) == ["200 OK", "200 OK"]
    assert len(calls) == 3
    assert (await api.get(f"Patient/{one['id']}")).json()["meta"]["versionId"] == "2"
    calls.clear()
    failures = 3
    issues = kit.outcome(await api.post("", json=crosswise), 409)
    assert issues[0]["code"] == "lock-error" and len(calls) == 3
    assert (await api.get(f"Patient/{one['id']}")).json()["meta"]["versionId"] == "2"


async def test_if_match_on_a_conditional_update_that_matches_nothing_is_412(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    r = await api.post("", json=bundle(put(person("A"), BY_FNR, ifMatch='W/"1"')))
    assert kit.expressions(kit.outcome(r, 412)) == {"Bundle.entry[0].request.ifMatch"}
    assert await kit.count("Patient") == 0


async def test_an_if_none_exist_whose_match_is_deleted_searches_again(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """DELETEs come first: the deleted match no longer matches, so the entry creates."""
    existing = await kit.post(person("A"))
    gone = {"request": {"method": "DELETE", "url": f"Patient/{existing['id']}"}}
    find = post(person("B"), PAT, ifNoneExist=BY_FNR.partition("?")[2])
    r = await api.post("", json=bundle(gone, find))
    assert statuses(r) == ["204 No Content", "201 Created"]
    assert r.json()["entry"][1]["resource"]["id"] != existing["id"]


async def test_a_deleted_match_that_other_criteria_follow_is_400(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()
    existing = await kit.post(person("A"))
    gone = {"request": {"method": "DELETE", "url": f"Patient/{existing['id']}"}}
    find = post(person("B"), PAT, ifNoneExist=BY_FNR.partition("?")[2])
    referral = kit.referral(PAT, refs["role"], refs["clinic"], identifier="C-14")
    system = referral["identifier"][0]["system"]
    upsert = put(referral, f"ServiceRequest?identifier={system}|C-14&subject={PAT}")
    r = await api.post("", json=bundle(gone, find, upsert))
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[1].request.ifNoneExist"}
    assert (await api.get(f"Patient/{existing['id']}")).status_code == 200


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # its row locks
async def test_a_real_deadlock_of_the_one_statement_runs_again(
    api: httpx.AsyncClient, kit: Kit, store: Any
) -> None:
    """A Bundle of creates only runs as one statement outside a transaction; PostgreSQL can
    still end it for a deadlock (its claims against another transaction's, crosswise). It
    is run again, as a transaction is, not answered with a 500."""
    assert store.dialect == "postgresql"
    import asyncio
    import contextlib

    import asyncpg  # type: ignore[import-untyped]

    from service.store.db import asyncpg_connect_args

    refs = await kit.gp_and_clinic()
    system = "urn:oid:2.16.578.1.12.4.1.2.99999"

    def claim(value: str) -> str:
        return f"referral?requester={refs['practice']}&identifier={system}|{value}"

    entries = [{"resource": kit.referral(refs["patient"], refs["role"], refs["clinic"],
                                         identifier=value),
                "request": {"method": "POST", "url": "ServiceRequest"}} for value in ("A", "B")]
    other = await asyncpg.connect(**asyncpg_connect_args(
        store.engine.url.render_as_string(hide_password=False)))
    insert = ("INSERT INTO conditional_claims (resource_type, claim_key, resource_id) "
              "VALUES ('Task', $1, $2)")
    try:
        crosswise = other.transaction()
        await crosswise.start()
        await other.execute(insert, claim("B"), "other-1")  # holds B
        sent = asyncio.create_task(api.post("", json={
            "resourceType": "Bundle", "type": "transaction", "entry": entries}))
        await asyncio.sleep(0.5)  # the Bundle holds A and waits for B
        # waits for A: a deadlock; PostgreSQL may end this side instead (the Bundle goes on)
        with contextlib.suppress(asyncpg.DeadlockDetectedError):
            await other.execute(insert, claim("A"), "other-2")
        await crosswise.rollback()
        r = await sent
    finally:
        await other.close()
    assert r.status_code == 200, r.text
    assert [e["response"]["status"][:3] for e in r.json()["entry"]] == ["201", "201"]
    assert await kit.count("ServiceRequest") == 2 and await kit.count("Task") == 2


async def test_criteria_whose_lock_is_needed_again_and_again_give_up_with_409(
    api: httpx.AsyncClient, kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock known only after a search (`_LockNeeded`) restarts the transaction with it
    taken up front; when each run needs yet another one, it stops after one per criteria
    and answers 409 (nothing written), rather than looping."""
    from service.api import transaction

    runs: list[int] = []

    async def always_another(*args: Any) -> Any:
        runs.append(1)
        raise transaction._LockNeeded(("Patient", f"identifier=x|{len(runs)}"))

    monkeypatch.setattr(transaction, "_conditions", always_another)
    issues = kit.outcome(await api.post("", json=bundle(put(person("A"), BY_FNR))), 409)
    assert "contended" in issues[0]["diagnostics"] and len(runs) == 2
    assert await kit.count("Patient") == 0
