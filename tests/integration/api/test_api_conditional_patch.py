"""Conditional patch, `PATCH [type]?[criteria]` (http.html#patch), on SQLite and
PostgreSQL: the one match is patched, none is 404, several 412; If-Match applies to the
match, an organisation matches only what it may read, and a refusal changes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from profiles import canonical

from .conftest import FNR, Kit

PATCH = {"Content-Type": "application/json-patch+json"}
CRITERIA = f"Patient?identifier={canonical.NO_FNR}|{FNR}"


def family(name: str) -> list[dict[str, Any]]:
    return [{"op": "replace", "path": "/name/0/family", "value": name}]


async def test_the_one_match_is_patched(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(kit.patient())
    r = await api.patch(CRITERIA, json=family("Hansen"), headers=PATCH)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == existing["id"] and r.json()["meta"]["versionId"] == "2"
    assert (await api.get(f"Patient/{existing['id']}")).json()["name"][0]["family"] == "Hansen"


async def test_no_match_is_404_and_several_are_412(api: httpx.AsyncClient, kit: Kit) -> None:
    kit.outcome(await api.patch(CRITERIA, json=family("Hansen"), headers=PATCH), 404)
    await kit.post(kit.patient())
    await kit.post(kit.patient())
    kit.outcome(await api.patch(CRITERIA, json=family("Hansen"), headers=PATCH), 412)
    assert await kit.count("Patient", {"name": "Hansen"}) == 0


async def test_if_match_guards_the_match(api: httpx.AsyncClient, kit: Kit) -> None:
    await kit.post(kit.patient())
    stale = await api.patch(CRITERIA, json=family("Hansen"), headers={**PATCH, "If-Match": 'W/"4"'})
    kit.outcome(stale, 412)
    assert await kit.count("Patient", {"name": "Hansen"}) == 0


async def test_a_patch_that_does_not_apply_is_422_and_no_criteria_400(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    existing = await kit.post(kit.patient())
    bad = [{"op": "test", "path": "/gender", "value": "female"}]
    kit.outcome(await api.patch(CRITERIA, json=bad, headers=PATCH), 422)
    kit.outcome(await api.patch("Patient", json=family("Hansen"), headers=PATCH), 400)
    assert (await api.get(f"Patient/{existing['id']}")).json()["meta"]["versionId"] == "1"


async def test_an_organisation_cannot_patch_what_it_cannot_see(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()  # its patient holds FNR, created by the system
    acting = {**PATCH, **await kit.outsider()}
    kit.outcome(await api.patch(CRITERIA, json=family("Hansen"), headers=acting), 404)
    assert (await api.get(refs["patient"])).json()["meta"]["versionId"] == "1"
