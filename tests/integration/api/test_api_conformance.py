"""HTTP conformance over the API on SQLite and PostgreSQL: conditional create after an
update, transaction rules (bdl-7, overlapping entries, conditional references, ifNoneExist
placeholders), 405 Allow and HEAD, reference search, If-None-Exist and If-Match edge
cases, batch entries, history `_since`, `_summary`, and PUT after DELETE."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from profiles import canonical

from .conftest import BASE, Kit

FNR_SYSTEM = canonical.NO_FNR
UNKNOWN = "7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11"


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def post_entry(resource: dict[str, Any], full_url: str | None = None, **request: str) -> dict:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }
    return entry | ({"fullUrl": full_url} if full_url else {})


def urn() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


# 1. conditional-create claims are dropped on update; identity claims are kept


async def test_conditional_create_after_the_identifier_changed_is_201(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    header = {"If-None-Exist": f"identifier={FNR_SYSTEM}|01017010170"}
    first = (await api.post("Patient", json=kit.patient(), headers=header)).json()
    changed = first | {"identifier": [{"system": FNR_SYSTEM, "value": "02017010029"}]}
    assert (await api.put(f"Patient/{first['id']}", json=changed)).status_code == 200
    again = await api.post("Patient", json=kit.patient(), headers=header)
    assert again.status_code == 201 and again.json()["id"] != first["id"]
    assert await kit.count("Patient") == 2


async def test_conditional_create_after_an_unchanged_update_still_finds_it(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    header = {"If-None-Exist": f"identifier={FNR_SYSTEM}|01017010170"}
    first = (await api.post("Patient", json=kit.patient(), headers=header)).json()
    await api.put(f"Patient/{first['id']}", json=first | {"gender": "female"})
    replies = await asyncio.gather(
        *(api.post("Patient", json=kit.patient(), headers=header) for _ in range(4))
    )
    assert {(r.status_code, r.json()["id"]) for r in replies} == {(200, first["id"])}


async def test_referral_replay_after_the_clinic_accepted_is_still_the_same_referral(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()
    sent = kit.referral(refs["patient"], refs["role"], refs["clinic"], identifier="R-77")
    stored = await kit.post(sent)
    task = (await api.get("Task", params={"focus": f"ServiceRequest/{stored['id']}"})).json()
    task = task["entry"][0]["resource"]
    headers = {"X-Acting-Organization": refs["clinic"], "If-Match": 'W/"1"'}
    body = {k: v for k, v in task.items() if k != "meta"} | {"status": "accepted"}
    assert (await api.put(f"Task/{task['id']}", json=body, headers=headers)).status_code == 200
    replay = await api.post("ServiceRequest", json=sent)
    assert replay.status_code == 200 and replay.json()["id"] == stored["id"]
    assert await kit.count("ServiceRequest") == 1 and await kit.count("Task") == 1


# 2, 3. bdl-7 and overlapping identities


async def test_duplicate_full_urls_are_400(api: httpx.AsyncClient, kit: Kit) -> None:
    same = urn()
    r = await api.post(
        "",
        json=bundle(
            "transaction", post_entry(kit.patient(), same), post_entry(kit.patient(), same)
        ),
    )
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[1].fullUrl"}
    assert await kit.count("Patient") == 0


async def test_delete_and_put_of_one_resource_in_a_transaction_is_400(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    created = await kit.post(kit.patient())
    ref = f"Patient/{created['id']}"
    r = await api.post(
        "",
        json=bundle(
            "transaction",
            {"request": {"method": "DELETE", "url": ref}},
            {"resource": created, "request": {"method": "PUT", "url": ref}},
        ),
    )
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[1].request.url"}
    assert (await api.get(ref)).status_code == 200


# 4. conditional references (a PractitionerRole naming its Organization by a search)


async def _role(kit: Kit, org_ref: str) -> dict[str, Any]:
    doctor = await kit.post(kit.practitioner())
    return kit.practitioner_role(f"Practitioner/{doctor['id']}", org_ref)


async def test_conditional_reference_with_one_match_is_rewritten(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    target = await kit.post(kit.organization("Unik Klinikk"))
    role = await _role(kit, "Organization?name=Unik Klinikk")
    r = await api.post("", json=bundle("transaction", post_entry(role)))
    assert r.status_code == 200, r.text
    made = r.json()["entry"][0]["resource"]
    assert made["organization"]["reference"] == f"Organization/{target['id']}"


@pytest.mark.parametrize(("existing", "status"), [(0, 404), (2, 412)], ids=["none", "several"])
async def test_conditional_reference_not_matching_one_fails_the_transaction(
    api: httpx.AsyncClient, kit: Kit, existing: int, status: int
) -> None:
    for _ in range(existing):
        await kit.post(kit.organization("Unik Klinikk"))
    role = await _role(kit, "Organization?name=Unik Klinikk")
    r = await api.post("", json=bundle("transaction", post_entry(kit.patient()), post_entry(role)))
    issues = kit.outcome(r, status)
    assert kit.expressions(issues) == {"Bundle.entry[1].resource.organization.reference"}
    assert await kit.count("Patient") == 0 and await kit.count("PractitionerRole") == 0


async def test_conditional_reference_outside_a_transaction_is_400(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    await kit.post(kit.organization("Unik Klinikk"))
    r = await api.post("PractitionerRole", json=await _role(kit, "Organization?name=Unik"))
    assert kit.expressions(kit.outcome(r, 400)) == {"PractitionerRole.organization.reference"}


# 5. ifNoneExist placeholders


async def test_if_none_exist_placeholders_are_rewritten_before_matching(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    clinic = urn()
    role = await _role(kit, clinic)
    entries = [
        post_entry(kit.organization(), clinic),
        post_entry(role, ifNoneExist=f"organization={clinic}"),
    ]
    first = await api.post("", json=bundle("transaction", *entries))
    assert first.status_code == 200, first.text
    assert [e["response"]["status"] for e in first.json()["entry"]] == ["201 Created"] * 2
    made = first.json()["entry"]
    org_ref = f"Organization/{made[0]['resource']['id']}"
    again = post_entry(
        role | {"organization": {"reference": org_ref}}, ifNoneExist=f"organization={org_ref}"
    )
    second = await api.post("", json=bundle("transaction", again))
    assert second.json()["entry"][0]["response"]["status"] == "200 OK"
    assert second.json()["entry"][0]["resource"]["id"] == made[1]["resource"]["id"]


# 6. 405 Allow and HEAD


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", f"Patient/{UNKNOWN}", "GET, HEAD, PUT, PATCH, DELETE"),
        ("TRACE", "Patient", "GET, HEAD, POST, PUT, PATCH, DELETE"),  # conditional forms too
        ("DELETE", "metadata", "GET, HEAD"),
        ("PUT", f"Patient/{UNKNOWN}/_history", "GET, HEAD"),
        ("GET", "", "POST"),
    ],
)
async def test_405_names_the_methods_of_the_path(
    api: httpx.AsyncClient, kit: Kit, method: str, path: str, allow: str
) -> None:
    r = await api.request(method, path)
    kit.outcome(r, 405)
    assert r.headers["allow"] == allow


async def test_head_answers_the_headers_of_get(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    r = await api.head(f"Patient/{created['id']}")
    assert r.status_code == 200 and r.headers["etag"] == 'W/"1"' and r.content == b""
    assert (await api.head("metadata")).status_code == 200


# 7. reference search


async def test_absolute_reference_to_our_base_is_searched_as_relative(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()
    await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    found = await api.get("ServiceRequest", params={"subject": f"{BASE}/{refs['patient']}"})
    assert found.json()["total"] == 1
    pid = refs["patient"].split("/")[1]
    other = await api.get("ServiceRequest", params={"subject": f"Practitioner/{pid}"})
    assert other.json()["total"] == 0
    typed = await api.get("ServiceRequest", params={"subject:Group": pid})
    assert typed.json()["total"] == 0


async def test_references_to_our_base_are_stored_relative(api: httpx.AsyncClient, kit: Kit) -> None:
    clinic = await kit.post(kit.organization())
    made = await kit.post(await _role(kit, f"{BASE}/Organization/{clinic['id']}"))
    assert made["organization"]["reference"] == f"Organization/{clinic['id']}"


# 8. If-None-Exist without criteria


@pytest.mark.parametrize("value", ["", "_count=1", "Patient?_sort=name&_summary=count"])
async def test_if_none_exist_without_criteria_is_400(
    api: httpx.AsyncClient, kit: Kit, value: str
) -> None:
    await kit.post(kit.patient())
    kit.outcome(
        await api.post("Patient", json=kit.patient(), headers={"If-None-Exist": value}), 400
    )
    entry = post_entry(kit.patient(), ifNoneExist=value)
    r = await api.post("", json=bundle("transaction", entry))
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[0].request.ifNoneExist"}
    assert await kit.count("Patient") == 1


# 9, 10. transaction-response DELETE entries; batch entries without request


async def test_delete_entry_answers_no_resource(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    r = await api.post(
        "",
        json=bundle(
            "transaction", {"request": {"method": "DELETE", "url": f"Patient/{created['id']}"}}
        ),
    )
    entry = r.json()["entry"][0]
    assert "resource" not in entry
    assert entry["response"]["status"] == "204 No Content"
    assert entry["response"]["etag"] == 'W/"2"'


async def test_batch_entry_without_request_fails_alone(api: httpx.AsyncClient, kit: Kit) -> None:
    r = await api.post(
        "", json=bundle("batch", {"resource": kit.patient()}, post_entry(kit.patient()))
    )
    assert r.status_code == 200, r.text
    first, second = r.json()["entry"]
    assert first["response"]["status"] == "400 Bad Request"
    issue = first["response"]["outcome"]["issue"][0]
    assert issue["expression"] == ["Bundle.entry[0].request"]
    assert second["response"]["status"] == "201 Created"
    assert await kit.count("Patient") == 1


# 11. If-Match * and lists


async def test_if_match_star_and_lists(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    path = f"Patient/{created['id']}"
    star = await api.put(path, json=created, headers={"If-Match": "*"})
    assert star.status_code == 200 and star.headers["etag"] == 'W/"2"'
    listed = await api.put(path, json=created, headers={"If-Match": 'W/"1", W/"2"'})
    assert listed.status_code == 200 and listed.headers["etag"] == 'W/"3"'
    kit.outcome(await api.put(path, json=created, headers={"If-Match": 'W/"1", W/"2"'}), 412)
    kit.outcome(
        await api.put(
            f"Patient/{UNKNOWN}", json=created | {"id": UNKNOWN}, headers={"If-Match": "*"}
        ),
        412,
    )
    gone = await api.delete(path, headers={"If-Match": 'W/"9", W/"3"'})
    assert gone.status_code == 204
    kit.outcome(await api.delete(path, headers={"If-Match": "*"}), 412)


async def test_if_match_star_in_a_transaction(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    ref = f"Patient/{created['id']}"
    r = await api.post(
        "",
        json=bundle(
            "transaction",
            {"resource": created, "request": {"method": "PUT", "url": ref, "ifMatch": "*"}},
        ),
    )
    assert r.json()["entry"][0]["response"]["etag"] == 'W/"2"'


# 12. _summary, _since, _at, strict GET entries


SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
             "code": "SUBSETTED", "display": "Resource encoded in summary mode"}


def with_text(patient: dict[str, Any]) -> dict[str, Any]:
    div = '<div xmlns="http://www.w3.org/1999/xhtml">Kari Nordmann</div>'
    return {**patient, "text": {"status": "generated", "div": div},
            "gender": "female", "contact": [{"name": {"family": "Nordmann"}}]}


async def test_summary_modes_subset_search_results(api: httpx.AsyncClient, kit: Kit) -> None:
    await kit.post(with_text(kit.patient()))
    full = (await api.get("Patient")).json()["entry"][0]["resource"]
    assert {"text", "contact", "gender"} <= set(full) and "tag" not in full["meta"]

    page = (await api.get("Patient", params={"_summary": "true"})).json()
    summary = page["entry"][0]["resource"]
    # Patient.contact and text are not summary elements; name, gender, identifier are
    assert set(summary) == {"resourceType", "id", "meta", "identifier", "name", "gender"}
    assert summary["meta"]["tag"] == [SUBSETTED] and summary["meta"]["versionId"] == "1"
    assert all("_summary=true" in link["url"] for link in page["link"])

    text = (await api.get("Patient", params={"_summary": "text"})).json()["entry"][0]["resource"]
    assert set(text) == {"resourceType", "id", "meta", "text"}
    data = (await api.get("Patient", params={"_summary": "data"})).json()["entry"][0]["resource"]
    assert set(data) == set(full) - {"text"} and data["meta"]["tag"] == [SUBSETTED]
    assert (await api.get("Patient", params={"_summary": "false"})).json()["entry"][0][
        "resource"] == full


async def test_elements_keep_the_named_and_the_mandatory(api: httpx.AsyncClient, kit: Kit) -> None:
    await kit.post(kit.organization())
    page = (await api.get("Organization", params={"_elements": "name,Organization.alias"})).json()
    org = page["entry"][0]["resource"]
    assert set(org) == {"resourceType", "id", "meta", "name"} and org["meta"]["tag"] == [SUBSETTED]
    assert all("_elements=name,alias" in link["url"] for link in page["link"])
    # ServiceRequest: status, intent and subject are mandatory, so they come along
    refs = await kit.gp_and_clinic()
    referral = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    got = (await api.get("ServiceRequest", params={"_elements": "authoredOn"})).json()
    kept = next(e["resource"] for e in got["entry"] if e["resource"]["id"] == referral["id"])
    assert set(kept) == {"resourceType", "id", "meta", "authoredOn", "status", "intent",
                         "subject"}


async def test_read_and_vread_take_summary_and_elements(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(with_text(kit.patient()))
    read = await api.get(f"Patient/{created['id']}", params={"_elements": "gender"})
    assert read.status_code == 200 and read.headers["etag"] == 'W/"1"'
    assert set(read.json()) == {"resourceType", "id", "meta", "gender"}
    vread = await api.get(f"Patient/{created['id']}/_history/1", params={"_summary": "text"})
    assert set(vread.json()) == {"resourceType", "id", "meta", "text"}
    stored = (await api.get(f"Patient/{created['id']}")).json()
    assert "tag" not in stored["meta"] and "contact" in stored  # nothing stored changed
    kit.outcome(await api.get(f"Patient/{created['id']}", params={"_summary": "count"}), 400)


async def test_unknown_summary_modes_are_reported_or_refused(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    await kit.post(kit.patient())
    lenient = (await api.get("Patient", params={"_summary": "brief"})).json()
    assert lenient["total"] == 1 and lenient["entry"][-1]["search"]["mode"] == "outcome"
    assert "tag" not in lenient["entry"][0]["resource"]["meta"]
    strict = await api.get(
        "Patient", params={"_summary": "brief"}, headers={"Prefer": "handling=strict"}
    )
    kit.outcome(strict, 400)
    both = await api.get("Patient", params={"_summary": "true", "_elements": "name"})
    kit.outcome(both, 400)
    excluded = (await api.get("Patient", params={"_elements:exclude": "name"})).json()
    assert excluded["entry"][-1]["search"]["mode"] == "outcome"  # reported, not misread
    assert "name" in excluded["entry"][0]["resource"]
    count = (await api.get("Patient", params={"_summary": "count", "_elements": "name"})).json()
    assert count["total"] == 1 and "entry" not in count  # count wins over the rest


async def test_odd_subset_requests_answer_alike_on_search_read_and_bundles(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    created = await kit.post({**kit.patient(), "deceasedBoolean": False, "gender": "female"})
    path = f"Patient/{created['id']}"
    strict = {"Prefer": "handling=strict"}
    # two modes at once: 400 on both
    kit.outcome(await api.get("Patient", params=[("_summary", "true"), ("_summary", "data")]),
                400)
    kit.outcome(await api.get(path, params=[("_summary", "true"), ("_summary", "data")]), 400)
    # names that are no top-level element of the type, and modifiers: reported / refused
    for odd in ({"_elements": "-name"}, {"_elements": "name.family"},
                {"_elements": "Organization.name"}, {"_elements:exclude": "name"}):
        page = (await api.get("Patient", params=odd)).json()
        assert page["entry"][-1]["search"]["mode"] == "outcome", odd
        kit.outcome(await api.get("Patient", params=odd, headers=strict), 400)
        kit.outcome(await api.get(path, params=odd, headers=strict), 400)
        assert "name" in (await api.get(path, params=odd)).json()  # lenient read: ignored
    # a choice element by its stem
    stem = (await api.get(path, params={"_elements": "deceased"})).json()
    assert set(stem) == {"resourceType", "id", "meta", "deceasedBoolean"}
    # a Bundle's GET entries read the parameters as the routes do
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": f"{path}?_elements=gender"}},
        {"request": {"method": "GET", "url": f"{path}?_summary=count"}},
    ]}
    entries = (await api.post("", json=bundle)).json()["entry"]
    assert set(entries[0]["resource"]) == {"resourceType", "id", "meta", "gender"}
    assert entries[1]["response"]["status"].startswith("400")


async def test_a_subsetted_resource_is_not_stored(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post({**kit.organization(), "alias": ["RK"]})
    path = f"Organization/{created['id']}"
    partial = (await api.get(path, params={"_summary": "true"})).json()
    assert "alias" not in partial
    for attempt in (api.put(path, json=partial, headers={"If-Match": 'W/"1"'}),
                    api.post("Organization", json=partial),
                    api.post("", json=bundle("transaction", post_entry(partial)))):
        issues = kit.outcome(await attempt, 422)
        assert any(i["code"] == "business-rule" and "SUBSETTED" in i["diagnostics"]
                   for i in issues)
    stored = (await api.get(path)).json()
    assert stored["meta"]["versionId"] == "1" and stored["alias"] == ["RK"]
    assert await kit.count("Organization") == 1


async def test_if_none_exist_refuses_summary_and_elements(api: httpx.AsyncClient,
                                                          kit: Kit) -> None:
    for value in ("identifier=urn:x|1&_elements=name", "identifier=urn:x|1&_summary=true"):
        kit.outcome(await api.post("Patient", json=kit.patient(),
                                   headers={"If-None-Exist": value}), 400)
    assert await kit.count("Patient") == 0


async def test_history_since_and_at(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    updated = (await api.put(f"Patient/{created['id']}", json=created)).json()
    since = updated["meta"]["lastUpdated"]
    page = (await api.get(f"Patient/{created['id']}/_history", params={"_since": since})).json()
    assert [e["response"]["etag"] for e in page["entry"]] == ['W/"2"'] and page["total"] == 1
    later = await api.get(f"Patient/{created['id']}/_history", params={"_since": "2999-01-01"})
    assert later.status_code == 200 and later.json()["total"] == 0
    kit.outcome(await api.get(f"Patient/{created['id']}/_history", params={"_since": "x"}), 400)


async def test_history_at_gives_the_versions_current_in_its_period(
        api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    path = f"Patient/{created['id']}/_history"
    await api.put(f"Patient/{created['id']}", json=created)  # version 2
    assert (await api.delete(f"Patient/{created['id']}")).status_code == 204  # version 3

    async def etags(*at: str, **more: str) -> list[str]:
        params = [("_at", a) for a in at] + list(more.items())
        page = (await api.get(path, params=tuple(params))).json()
        return [e["response"]["etag"] for e in page["entry"]]

    today = created["meta"]["lastUpdated"][:10]
    assert await etags(today) == ['W/"3"', 'W/"2"', 'W/"1"']  # all three were, today
    assert await etags("2999") == ['W/"3"']  # only the deletion is still current then
    assert await etags("gt" + today) == ['W/"3"']
    assert await etags("2000") == []  # before it existed
    assert await etags("lt" + today) == []
    assert await etags("le" + today) == ['W/"3"', 'W/"2"', 'W/"1"']
    assert await etags(today, "ge2999") == ['W/"3"']  # several `_at` are ANDed
    assert await etags("2999", _since="2999-01-01") == []  # and ANDed with `_since`
    for bad in ("x", "sa2026", "2026-13", "ne" + today):
        issues = kit.outcome(await api.get(path, params={"_at": bad}), 400)
        assert issues[0]["code"] == "value", bad


async def test_history_paging_links_keep_since_and_at(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    await api.put(f"Patient/{created['id']}", json=created)
    today = created["meta"]["lastUpdated"][:10]
    params = {"_since": "2000-01-01", "_at": today, "_count": "1"}
    page = (await api.get(f"Patient/{created['id']}/_history", params=params)).json()
    assert page["total"] == 2
    following = next(link["url"] for link in page["link"] if link["relation"] == "next")
    assert httpx.URL(following).params["_since"] == "2000-01-01"
    assert httpx.URL(following).params["_at"] == today
    rest = (await api.get(following)).json()
    assert [e["response"]["etag"] for e in rest["entry"]] == ['W/"1"']


async def test_transaction_get_entries_follow_prefer_handling(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    search = {"request": {"method": "GET", "url": "Patient?nonsense=1"}}
    lenient = await api.post("", json=bundle("transaction", search))
    assert lenient.status_code == 200
    strict = await api.post(
        "", json=bundle("transaction", search), headers={"Prefer": "handling=strict"}
    )
    kit.outcome(strict, 400)


# 13. PUT after DELETE


async def test_put_after_delete_recreates_with_201(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    path = f"Patient/{created['id']}"
    await api.delete(path)
    again = await api.put(path, json=created)
    assert again.status_code == 201
    assert again.headers["location"] == f"{BASE}/{path}/_history/3"
    assert (await api.put(path, json=created)).status_code == 200
    assert (await api.get(path)).status_code == 200
