"""Conditional delete, `DELETE [type]?[criteria]` (http.html#cdelete, `single`), on SQLite
and PostgreSQL: the one match is deleted, none is 404, several 412; a Task or a referral is
405 as by id, If-Match applies to the match, an organisation deletes only what it may read,
and a refusal changes nothing."""

from __future__ import annotations

import httpx

from profiles import canonical

from .conftest import FNR, Kit

CRITERIA = f"Patient?identifier={canonical.NO_FNR}|{FNR}"


async def test_the_one_match_is_deleted(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(kit.patient())
    r = await api.delete(CRITERIA)
    assert r.status_code == 204 and r.headers["etag"] == 'W/"2"'
    kit.outcome(await api.get(f"Patient/{existing['id']}"), 410)


async def test_no_match_is_404_several_412_and_no_criteria_400(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    kit.outcome(await api.delete(CRITERIA), 404)
    await kit.post(kit.patient())
    await kit.post(kit.patient())
    kit.outcome(await api.delete(CRITERIA), 412)
    kit.outcome(await api.delete("Patient"), 400)
    kit.outcome(await api.delete("Patient?name="), 400)
    assert await kit.count("Patient") == 2


async def test_if_match_guards_the_match(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(kit.patient())
    kit.outcome(await api.delete(CRITERIA, headers={"If-Match": 'W/"3"'}), 412)
    assert (await api.get(f"Patient/{existing['id']}")).status_code == 200


async def test_a_referral_and_its_task_are_405(api: httpx.AsyncClient, kit: Kit) -> None:
    refs = await kit.gp_and_clinic()
    referral = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    system = referral["identifier"][0]["system"]
    value = referral["identifier"][0]["value"]
    r = await api.delete(f"ServiceRequest?identifier={system}|{value}")
    kit.outcome(r, 405)
    assert "DELETE" not in r.headers["allow"]
    kit.outcome(await api.delete(f"Task?focus=ServiceRequest/{referral['id']}"), 405)
    assert await kit.count("ServiceRequest") == 1 and await kit.count("Task") == 1


async def test_an_organisation_cannot_delete_what_it_cannot_see(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()  # its patient holds FNR, created by the system
    acting = await kit.outsider()
    kit.outcome(await api.delete(CRITERIA, headers=acting), 404)
    assert (await api.get(refs["patient"])).status_code == 200


async def test_the_capability_statement_says_single(api: httpx.AsyncClient) -> None:
    rest = (await api.get("metadata")).json()["rest"][0]
    modes = {r["type"]: r["conditionalDelete"] for r in rest["resource"]}
    assert modes["Patient"] == "single" and modes["Task"] == "not-supported"
    assert modes["ServiceRequest"] == "not-supported"


async def test_a_question_mark_inside_a_value_is_the_value(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """Only a leading `Type?` is cut from criteria: `identifier=x|y?name=Nordmann` is one
    identifier that matches nothing, never the name."""
    existing = await kit.post(kit.patient())
    kit.outcome(await api.delete("Patient?identifier=zz|nomatch?name=Nordmann"), 404)
    patch = [{"op": "add", "path": "/gender", "value": "female"}]
    r = await api.patch("Patient?identifier=zz|nomatch?name=Nordmann", json=patch,
                        headers={"Content-Type": "application/json-patch+json"})
    kit.outcome(r, 404)
    assert (await api.get(f"Patient/{existing['id']}")).json()["meta"]["versionId"] == "1"


async def test_tasks_are_never_deleted_whatever_matches(api: httpx.AsyncClient, kit: Kit) -> None:
    for criteria in ("Task?status=completed", "Task?status=requested,completed"):
        r = await api.delete(criteria)
        kit.outcome(r, 405)
        assert r.headers["allow"] == "GET, HEAD, PUT, PATCH"


async def test_metadata_and_unknown_types_answer_before_the_body(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    for method in ("PUT", "PATCH", "DELETE"):
        r = await api.request(method, "metadata", content=b"")
        kit.outcome(r, 405)
        assert r.headers["allow"] == "GET, HEAD"
        kit.outcome(await api.request(method, "Spaceship?x=1", content=b""), 404)
