"""Conditional patch and delete as Bundle entries, `PATCH|DELETE Type?criteria`
(http.html#transaction), on SQLite and PostgreSQL: each writes the one resource its criteria
match when the transaction runs (none 404, several 412), as the standalone forms do; all or
nothing with the rest of a transaction, each on its own in a batch."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from profiles import canonical

from .conftest import FNR, Kit

BY_FNR = f"Patient?identifier={canonical.NO_FNR}|{FNR}"
OTHER_FNR = "15076500565"  # valid check digits (synthetic), not FNR
ORG = "urn:uuid:0f5e8a2e-7777-4d6c-9b1a-2f0e5b7c9a07"


def patch(url: str, operations: Any, **request: str) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(operations).encode()).decode()
    return {"resource": {"resourceType": "Binary", "contentType": "application/json-patch+json",
                         "data": data},
            "request": {"method": "PATCH", "url": url, **request}}


def delete(url: str, **request: str) -> dict[str, Any]:
    return {"request": {"method": "DELETE", "url": url, **request}}


def bundle(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


FEMALE = [{"op": "add", "path": "/gender", "value": "female"}]


async def practice_with_role(kit: Kit) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A practice (HER-id 424242) with a PractitionerRole, and a POST entry (fullUrl ORG)
    whose ifNoneExist finds that practice."""
    org = await kit.post(kit.organization("Legekontoret", her_id="424242"))
    doctor = await kit.post(kit.practitioner())
    role = await kit.post(kit.practitioner_role(f"Practitioner/{doctor['id']}",
                                                f"Organization/{org['id']}"))
    found = {"fullUrl": ORG, "resource": kit.organization("Legekontoret", her_id="424242"),
             "request": {"method": "POST", "url": "Organization",
                         "ifNoneExist": f"identifier={canonical.NO_HER}|424242"}}
    return org, role, found


async def test_the_one_match_is_patched_and_the_other_deleted(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    kept = await kit.post(kit.patient())
    gone = await kit.post(kit.patient(OTHER_FNR, "Hansen"))
    r = await api.post("", json=bundle(
        patch(BY_FNR, FEMALE),
        delete(f"Patient?identifier={canonical.NO_FNR}|{OTHER_FNR}")))
    assert r.status_code == 200, r.text
    answers = [e["response"] for e in r.json()["entry"]]
    assert answers[0]["status"].startswith("200") and answers[0]["etag"] == 'W/"2"'
    assert answers[0]["location"] == f"Patient/{kept['id']}/_history/2"
    assert answers[1]["status"].startswith("204") and answers[1]["etag"] == 'W/"2"'
    assert (await api.get(f"Patient/{kept['id']}")).json()["gender"] == "female"
    kit.outcome(await api.get(f"Patient/{gone['id']}"), 410)


async def test_none_is_404_and_several_412_and_nothing_is_written(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    create = {"resource": kit.organization(), "request": {"method": "POST", "url": "Organization"}}
    orgs = await kit.count("Organization")
    for entry in (patch(BY_FNR, FEMALE), delete(BY_FNR)):
        issues = kit.outcome(await api.post("", json=bundle(create, entry)), 404)
        assert kit.expressions(issues) == {"Bundle.entry[1]"}
    await kit.post(kit.patient())
    await kit.post(kit.patient())
    for entry in (patch(BY_FNR, FEMALE), delete(BY_FNR)):
        kit.outcome(await api.post("", json=bundle(create, entry)), 412)
    assert await kit.count("Organization") == orgs
    found = (await api.get("Patient")).json()["entry"]
    assert len(found) == 2 and all(e["resource"]["meta"]["versionId"] == "1" for e in found)


async def test_a_batch_answers_each_on_its_own(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(kit.patient())
    r = await api.post("", json=bundle(
        patch(f"Patient?identifier={canonical.NO_FNR}|{OTHER_FNR}", FEMALE),
        patch(BY_FNR, FEMALE), kind="batch"))
    assert r.status_code == 200, r.text
    statuses = [e["response"]["status"] for e in r.json()["entry"]]
    assert statuses[0].startswith("404") and statuses[1].startswith("200")
    assert (await api.get(f"Patient/{existing['id']}")).json()["gender"] == "female"


async def test_a_match_another_entry_touches_is_400(api: httpx.AsyncClient, kit: Kit) -> None:
    """trules: a transaction touches a resource once, however it is named."""
    existing = await kit.post(kit.patient())
    path = f"Patient/{existing['id']}"
    put = {"resource": {k: v for k, v in existing.items() if k != "meta"},
           "request": {"method": "PUT", "url": path}}
    for pair in ((put, patch(BY_FNR, FEMALE)), (delete(path), patch(BY_FNR, FEMALE)),
                 (patch(BY_FNR, FEMALE), delete(BY_FNR))):
        issues = kit.outcome(await api.post("", json=bundle(*pair)), 400)
        assert kit.expressions(issues) == {"Bundle.entry[1].request.url"}
    current = (await api.get(path)).json()
    assert current["meta"]["versionId"] == "1" and "gender" not in current


async def test_criteria_may_name_what_an_if_none_exist_matched(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """A fullUrl in the criteria names the entry's resource: here the practice an
    ifNoneExist found, whose PractitionerRole is then patched."""
    _, role, found = await practice_with_role(kit)
    inactive = [{"op": "add", "path": "/active", "value": False}]
    r = await api.post("", json=bundle(
        found, patch(f"PractitionerRole?organization={ORG}", inactive)))
    assert r.status_code == 200, r.text
    assert [e["response"]["status"][:3] for e in r.json()["entry"]] == ["200", "200"]
    assert (await api.get(f"PractitionerRole/{role['id']}")).json()["active"] is False


async def test_a_task_or_a_referral_is_405_and_tasks_before_any_search(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()
    referral = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    issues = kit.outcome(await api.post("", json=bundle(delete("Task?status=requested"))), 405)
    assert kit.expressions(issues) == {"Bundle.entry[0]"}
    kit.outcome(await api.post("", json=bundle(
        delete(f"ServiceRequest?_id={referral['id']}"))), 405)
    assert await kit.count("ServiceRequest") == 1 and await kit.count("Task") == 1


async def test_an_organisation_changes_only_what_it_may_read(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    acting = await kit.outsider()
    existing = await kit.post(kit.patient())
    for entry in (patch(BY_FNR, FEMALE), delete(BY_FNR)):
        kit.outcome(await api.post("", json=bundle(entry), headers=acting), 404)
    current = (await api.get(f"Patient/{existing['id']}")).json()
    assert current["meta"]["versionId"] == "1"


async def test_if_match_applies_to_the_match(api: httpx.AsyncClient, kit: Kit) -> None:
    existing = await kit.post(kit.patient())
    for entry in (patch(BY_FNR, FEMALE, ifMatch='W/"7"'), delete(BY_FNR, ifMatch='W/"7"')):
        kit.outcome(await api.post("", json=bundle(entry)), 412)
    r = await api.post("", json=bundle(patch(BY_FNR, FEMALE, ifMatch='W/"1"')))
    assert r.status_code == 200, r.text
    assert (await api.get(f"Patient/{existing['id']}")).json()["meta"]["versionId"] == "2"


async def test_malformed_criteria_are_400_before_anything_runs(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    for url in ("Patient?name=", "Patient?_count=3", "Patient?nonsense=1"):
        r = await api.post("", json=bundle(delete(url)), headers={"Prefer": "handling=strict"})
        kit.outcome(r, 400)


INACTIVE = [{"op": "add", "path": "/active", "value": False}]


async def test_criteria_naming_an_if_none_exist_whose_match_is_deleted_are_400(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """The ifNoneExist's match is deleted by a DELETE entry, so its fullUrl would stand for
    two resources in one transaction (the deleted match the criteria search, the created
    one); as for a conditional update in that place: 400, nothing written."""
    org, role, found = await practice_with_role(kit)
    r = await api.post("", json=bundle(found, delete(f"Organization/{org['id']}"),
                                       patch(f"PractitionerRole?organization={ORG}", INACTIVE)))
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[0].request.ifNoneExist"}
    assert (await api.get(f"PractitionerRole/{role['id']}")).json()["meta"]["versionId"] == "1"
    assert (await api.get(f"Organization/{org['id']}")).status_code == 200


async def test_a_conditional_patch_entrys_full_url_names_its_match(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """Other entries that refer to a conditional PATCH entry's fullUrl refer to what it
    patched, as for a `Type/id` PATCH entry; criteria cannot name it (its match is known
    only when its own search runs): 400."""
    org = await kit.post(kit.organization("Legekontoret", her_id="434343"))
    doctor = await kit.post(kit.practitioner())
    active = patch(f"Organization?identifier={canonical.NO_HER}|434343",
                   [{"op": "add", "path": "/active", "value": True}]) | {"fullUrl": ORG}
    role = {"resource": kit.practitioner_role(f"Practitioner/{doctor['id']}", ORG),
            "request": {"method": "POST", "url": "PractitionerRole"}}
    r = await api.post("", json=bundle(active, role))
    assert r.status_code == 200, r.text
    made = r.json()["entry"][1]["response"]["location"].split("/_history")[0]
    stored = (await api.get(made)).json()
    assert stored["organization"] == {"reference": f"Organization/{org['id']}"}
    practice = {"X-Acting-Organization": f"Organization/{org['id']}"}
    assert (await api.get(made, headers=practice)).status_code == 200  # it counts as theirs
    searching = {"resource": kit.practitioner_role(f"Practitioner/{doctor['id']}",
                                                   f"Organization/{org['id']}"),
                 "request": {"method": "POST", "url": "PractitionerRole",
                             "ifNoneExist": f"organization={ORG}"}}
    r = await api.post("", json=bundle(active, searching))
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[1].request"}
    r = await api.post("", json=bundle(active, patch(f"PractitionerRole?organization={ORG}",
                                                     INACTIVE)))
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[1].request"}
