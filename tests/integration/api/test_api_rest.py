"""FHIR REST interactions end to end (http.html), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from profiles import canonical

Kit = Any  # the `kit` fixture (tests/integration/api/conftest.py)
BASE = "http://127.0.0.1:8080/fhir"


async def test_metadata_is_a_truthful_capability_statement(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    r = await api.get("metadata")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/fhir+json; charset=utf-8"
    cs = r.json()
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "4.0.1"
    rest = cs["rest"][0]
    assert {i["code"] for i in rest["interaction"]} == {"transaction", "batch", "history-system"}
    by_type = {r["type"]: r for r in rest["resource"]}
    task = by_type["Task"]
    # Tasks are created by the service only (POST /Task is 405): no create of any kind
    assert task["conditionalCreate"] is False and task["updateCreate"] is False
    assert "create" not in {i["code"] for i in task["interaction"]}
    assert by_type["ServiceRequest"]["conditionalCreate"] is True
    assert task["versioning"] == "versioned-update"
    assert {"focus", "owner", "status", "_id"} <= {p["name"] for p in task["searchParam"]}
    assert by_type["ServiceRequest"]["supportedProfile"] == [
        "https://chiroref.example.org/fhir/StructureDefinition/ChiroAssessmentReferral"
    ]


PLAUSIBLE = {  # a well-formed search value per parameter type
    "token": "http://example.org/cs|x",
    "reference": "Patient/7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11",
    "date": "ge2026-01-01",
    "string": "kari",
    "uri": "http://example.org/q",
}
SPECIAL = {"_id": "7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11", "_lastUpdated": "ge2026-01-01"}


async def test_every_listed_search_parameter_searches(api: httpx.AsyncClient, kit: Kit) -> None:
    """The CapabilityStatement is truthful: each searchParam of each type answers a strict
    search (an unknown parameter would be 400) with a searchset."""
    listed = (await api.get("metadata")).json()["rest"][0]["resource"]
    table = [(r["type"], p["name"], p["type"]) for r in listed for p in r["searchParam"]]
    assert len(table) >= len(listed) * 2  # at least _id and _lastUpdated everywhere
    strict = {"Prefer": "handling=strict"}
    for rtype, name, kind in table:
        value = SPECIAL.get(name, PLAUSIBLE[kind])
        r = await api.get(rtype, params={name: value}, headers=strict)
        assert r.status_code == 200, (rtype, name, r.text)
        assert r.json()["type"] == "searchset" and r.json()["total"] == 0, (rtype, name)


async def test_create_assigns_id_and_answers_201_with_location_and_etag(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    r = await api.post("Patient", json=kit.patient() | {"id": "client-chosen"})
    assert r.status_code == 201
    body = r.json()
    assert body["id"] != "client-chosen" and body["meta"]["versionId"] == "1"
    assert r.headers["location"] == f"{BASE}/Patient/{body['id']}/_history/1"
    assert r.headers["etag"] == 'W/"1"' and r.headers["last-modified"].endswith("GMT")
    read = await api.get(f"Patient/{body['id']}")
    assert read.status_code == 200 and read.json() == body and read.headers["etag"] == 'W/"1"'


async def test_prefer_return_minimal_and_operation_outcome(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    minimal = await api.post("Patient", json=kit.patient(), headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 201 and minimal.content == b""
    assert minimal.headers["location"].startswith(f"{BASE}/Patient/")
    oo = await api.post(
        "Patient", json=kit.patient(), headers={"Prefer": "return=OperationOutcome"}
    )
    assert oo.status_code == 201 and oo.json()["resourceType"] == "OperationOutcome"


async def test_update_with_if_match_and_vread_and_history(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    pid = created["id"]
    changed = created | {"name": [{"family": "Hansen"}]}
    r = await api.put(f"Patient/{pid}", json=changed, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 200 and r.headers["etag"] == 'W/"2"'
    assert r.headers["location"] == f"{BASE}/Patient/{pid}/_history/2"
    assert (await api.get(f"Patient/{pid}/_history/1")).json()["name"][0]["family"] == "Nordmann"
    assert (await api.get(f"Patient/{pid}/_history/2")).json()["name"][0]["family"] == "Hansen"
    history = (await api.get(f"Patient/{pid}/_history")).json()
    assert history["type"] == "history" and history["total"] == 2
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert history["entry"][0]["fullUrl"] == f"{BASE}/Patient/{pid}"


async def test_conditional_read_answers_304_for_the_version_the_client_holds(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """http.html#cread: If-None-Match (the ETag it holds, or *) and If-Modified-Since give
    304 with the version headers and no body while nothing changed; read, vread and HEAD."""
    created = await kit.post(kit.patient())
    path = f"Patient/{created['id']}"
    first = await api.get(path)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    for how in ({"If-None-Match": etag}, {"If-None-Match": "*"},
                {"If-Modified-Since": modified}):
        r = await api.get(path, headers=how)
        assert r.status_code == 304 and r.content == b"", (how, r.text)
        assert r.headers["etag"] == etag and r.headers["last-modified"] == modified
        assert (await api.head(path, headers=how)).status_code == 304
    assert (await api.get(f"{path}/_history/1", headers={"If-None-Match": etag})
            ).status_code == 304
    changed = await api.put(path, json=created | {"gender": "female"})
    assert changed.status_code == 200
    for how in ({"If-None-Match": etag}, {"If-Modified-Since": "Thu, 01 Jan 2015 00:00:00 GMT"},
                {"If-Modified-Since": "not a date"}):
        r = await api.get(path, headers=how)
        assert r.status_code == 200 and r.json()["gender"] == "female", how
    assert (await api.get(path, headers={"If-None-Match": 'W/"1", W/"2"'})).status_code == 304
    assert (await api.delete(path)).status_code == 204
    kit.outcome(await api.get(path, headers={"If-None-Match": "*"}), 410)
    cs = (await api.get("metadata")).json()
    patient = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Patient")
    assert patient["conditionalRead"] == "full-support"


async def test_bundle_get_entries_take_if_none_match_and_if_modified_since(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """Bundle.entry.request.ifNoneMatch (an ETag) and ifModifiedSince (an instant): a
    `304 Not Modified` entry with the version's etag and no resource."""
    created = await kit.post(kit.patient())
    path = f"Patient/{created['id']}"
    updated = created["meta"]["lastUpdated"]

    def get(url: str, **request: str) -> dict[str, Any]:
        return {"request": {"method": "GET", "url": url, **request}}

    for kind in ("batch", "transaction"):
        r = await api.post("", json={"resourceType": "Bundle", "type": kind, "entry": [
            get(path, ifNoneMatch='W/"1"'), get(path, ifModifiedSince=updated),
            get(f"{path}/_history/1", ifNoneMatch="*"), get(path, ifNoneMatch='W/"7"'),
            get(path, ifModifiedSince="2015-01-01T00:00:00Z"),
            get(path, ifNoneMatch='W/"7"', ifModifiedSince=updated)]})
        assert r.status_code == 200, r.text
        entries = r.json()["entry"]
        assert [e["response"]["status"][:3] for e in entries] == [
            "304", "304", "304", "200", "200", "200"], kind
        assert "resource" not in entries[0] and entries[0]["response"]["etag"] == 'W/"1"'
        assert entries[3]["resource"]["id"] == created["id"]
    r = await api.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": [
        get(path, ifModifiedSince="yesterday")]})
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[0].request.ifModifiedSince"}
    r = await api.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "GET", "url": path, "ifNoneMatch": 1}}]})
    assert kit.expressions(kit.outcome(r, 400)) == {"Bundle.entry[0].request.ifNoneMatch"}
    # an instant names a millisecond: a version written later in the same second is new
    changed = await api.put(path, json=created | {"gender": "female"})
    assert changed.status_code == 200
    r = await api.post("", json={"resourceType": "Bundle", "type": "batch", "entry": [
        get(path, ifModifiedSince=updated)]})
    answer = r.json()["entry"][0]
    assert answer["response"]["status"][:3] == "200" and answer["resource"]["gender"] == "female"


async def test_fhir_version_parameter_other_than_4_0_is_refused(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """versioning.html#mt-version: asking only for FHIR 3.0 is 406, a body declared as 3.0
    is 415 (nothing stored); 4.0 is what this server speaks."""
    r = await api.get("metadata", headers={"Accept": "application/fhir+json; fhirVersion=4.0"})
    assert r.status_code == 200
    kit.outcome(await api.get("metadata", headers={
        "Accept": "application/fhir+json; fhirVersion=3.0"}), 406)
    body = json.dumps(kit.patient()).encode()
    kit.outcome(await api.post("Patient", content=body, headers={
        "Content-Type": "application/fhir+json; fhirVersion=3.0"}), 415)
    assert await kit.count("Patient") == 0
    made = await api.post("Patient", content=body, headers={
        "Content-Type": "application/fhir+json; fhirVersion=4.0"})
    assert made.status_code == 201, made.text


async def test_type_and_system_history_newest_first_with_deletions(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """`GET [type]/_history` and `GET /_history` (http.html#history): every version the
    caller may read, newest first, deletions included; `_since` and paging as for one
    resource's history."""
    first = await kit.post(kit.patient())
    org = await kit.post(kit.organization())
    changed = await api.put(f"Patient/{first['id']}", json=first | {"gender": "male"})
    assert changed.status_code == 200
    assert (await api.delete(f"Patient/{first['id']}")).status_code == 204
    second = await kit.post(kit.patient(family="Hansen"))
    page = (await api.get("Patient/_history")).json()
    assert page["type"] == "history" and page["total"] == 4
    seen = [(e["fullUrl"].rsplit("/", 1)[1], e["response"]["etag"], e["request"]["method"])
            for e in page["entry"]]
    assert seen == [(second["id"], 'W/"1"', "POST"), (first["id"], 'W/"3"', "DELETE"),
                    (first["id"], 'W/"2"', "PUT"), (first["id"], 'W/"1"', "POST")]
    assert "resource" not in page["entry"][1]
    every = (await api.get("_history")).json()
    assert every["total"] == 5
    assert {e["fullUrl"].rsplit("/", 2)[1] for e in every["entry"]} == {"Patient",
                                                                        "Organization"}
    since = second["meta"]["lastUpdated"]
    recent = (await api.get("Patient/_history", params={"_since": since})).json()
    assert [e["fullUrl"].rsplit("/", 1)[1] for e in recent["entry"]] == [second["id"]]
    one = (await api.get("_history", params={"_count": "2"})).json()
    assert len(one["entry"]) == 2 and one["total"] == 5
    after = next(link["url"] for link in one["link"] if link["relation"] == "next")
    assert after.startswith(f"{kit.base}/_history?")
    rest = (await api.get(after)).json()
    assert {(e["fullUrl"], e["response"]["etag"]) for e in rest["entry"]}.isdisjoint(
        {(e["fullUrl"], e["response"]["etag"]) for e in one["entry"]})
    # an organisation reads the history of what it may read only
    acting = {"X-Acting-Organization": f"Organization/{org['id']}"}
    theirs = (await api.get("_history", headers=acting)).json()
    assert [e["fullUrl"] for e in theirs["entry"]] == [f"{kit.base}/Organization/{org['id']}"]
    kit.outcome(await api.get("Spaceship/_history"), 404)
    kit.outcome(await api.get("Patient/_history", params={"_since": "soon"}), 400)
    as_entries = await api.post("", json={"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": url}} for url in (
            f"Patient/{first['id']}/_history", "Patient/_history?_count=1", "_history",
            "Spaceship/_history")]})
    assert as_entries.status_code == 200, as_entries.text
    answers = as_entries.json()["entry"]
    assert [e["response"]["status"][:3] for e in answers] == ["200", "200", "200", "404"]
    assert [a["resource"]["total"] for a in answers[:3]] == [3, 4, 5]
    assert len(answers[1]["resource"]["entry"]) == 1
    assert answers[0]["resource"]["type"] == "history"
    kit.outcome(await api.post("_history", json={"resourceType": "Patient"}), 405)
    for method, url in (("PUT", "_history"), ("DELETE", "_history"), ("PATCH", "_history"),
                        ("PUT", "Patient/_history"), ("DELETE", "Patient/_history"),
                        ("POST", "Patient/_history")):
        refused = await api.request(method, url, json={"resourceType": "Patient"})
        kit.outcome(refused, 405)
        assert refused.headers["allow"] == "GET, HEAD", (method, url)
    for method in ("GET", "HEAD"):  # an id `_history` is no id: 404, not 405
        missing = await api.request(method, "Patient/_history/_history")
        assert missing.status_code == 404, (method, missing.text)
    for method in ("POST", "DELETE"):  # an instance history's path: GET and HEAD only
        refused = await api.request(method, "Patient/_history/_history")
        assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    shouting = await api.post("", json={"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": f"Patient/{second['id'].upper()}{tail}"}}
        for tail in ("", "/_history")]})
    assert [e["response"]["status"][:3] for e in shouting.json()["entry"]] == ["200", "200"]
    issues = kit.outcome(await api.get("Patient/_history", params={"_at": "ge2020"}), 400)
    assert issues[0]["code"] == "not-supported"  # not ignored: that would widen the answer
    assert (await api.get(f"Patient/{first['id']}/_history", params={"_at": "ge2020"})
            ).status_code == 200
    cs = (await api.get("metadata")).json()
    assert {"code": "history-system"} in cs["rest"][0]["interaction"]
    patient = next(r for r in cs["rest"][0]["resource"] if r["type"] == "Patient")
    assert {"code": "history-type"} in patient["interaction"]


async def test_stale_if_match_is_412_and_changes_nothing(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    pid = created["id"]
    await api.put(f"Patient/{pid}", json=created, headers={"If-Match": 'W/"1"'})
    stale = await api.put(
        f"Patient/{pid}", json=created | {"gender": "female"}, headers={"If-Match": 'W/"1"'}
    )
    kit.outcome(stale, 412)
    current = (await api.get(f"Patient/{pid}")).json()
    assert current["meta"]["versionId"] == "2" and "gender" not in current


async def test_delete_then_read_is_410_and_history_shows_it(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    pid = (await kit.post(kit.patient()))["id"]
    r = await api.delete(f"Patient/{pid}")
    assert r.status_code == 204
    kit.outcome(await api.get(f"Patient/{pid}"), 410)
    assert (await api.delete(f"Patient/{pid}")).status_code == 204  # idempotent
    history = (await api.get(f"Patient/{pid}/_history")).json()
    assert history["entry"][0]["request"]["method"] == "DELETE"


async def test_conditional_create_one_match_is_200_with_it(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    first = await api.post(
        "Patient",
        json=kit.patient(fnr="01017010170"),
        headers={"If-None-Exist": "identifier=urn:oid:2.16.578.1.12.4.1.4.1|01017010170"},
    )
    assert first.status_code == 201
    again = await api.post(
        "Patient",
        json=kit.patient(fnr="01017010170"),
        headers={"If-None-Exist": "identifier=urn:oid:2.16.578.1.12.4.1.4.1|01017010170"},
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert again.headers["location"].endswith(f"/Patient/{first.json()['id']}/_history/1")
    assert await kit.count("Patient") == 1


async def test_conditional_create_several_matches_is_412(api: httpx.AsyncClient, kit: Kit) -> None:
    await kit.post(kit.patient())
    await kit.post(kit.patient())
    r = await api.post("Patient", json=kit.patient(), headers={"If-None-Exist": "name=Nordmann"})
    kit.outcome(r, 412)
    assert await kit.count("Patient") == 2


async def test_eight_concurrent_conditional_creates_make_exactly_one(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    header = {"If-None-Exist": "identifier=urn:oid:2.16.578.1.12.4.1.4.1|01017010170"}
    replies = await asyncio.gather(
        *(api.post("Patient", json=kit.patient(), headers=header) for _ in range(8))
    )
    assert sorted(r.status_code for r in replies) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in replies}) == 1
    assert await kit.count("Patient") == 1


async def test_search_paging_links_are_absolute_and_walk_the_set(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    for _ in range(5):
        await kit.post(kit.patient())
    page = (await api.get("Patient", params={"_count": "2", "_sort": "_lastUpdated"})).json()
    assert page["type"] == "searchset" and page["total"] == 5 and len(page["entry"]) == 2
    links = {link["relation"]: link["url"] for link in page["link"]}
    assert links["self"].startswith(f"{BASE}/Patient?") and "_offset=0" in links["self"]
    assert "previous" not in links
    seen = [e["fullUrl"] for e in page["entry"]]
    while "next" in links:
        page = (await api.get(links["next"])).json()
        links = {link["relation"]: link["url"] for link in page["link"]}
        seen += [e["fullUrl"] for e in page["entry"]]
        assert all(e["search"]["mode"] == "match" for e in page["entry"])
    assert len(set(seen)) == 5 and all(u.startswith(f"{BASE}/Patient/") for u in seen)
    assert "previous" in links


async def test_count_is_capped_and_summary_count_has_no_entries(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    for _ in range(3):
        await kit.post(kit.patient())
    summary = (await api.get("Patient", params={"_summary": "count"})).json()
    assert summary["total"] == 3 and "entry" not in summary
    capped = (await api.get("Patient", params={"_count": "1000"})).json()
    assert "_count=20" in capped["link"][0]["url"]  # max_page_size of the test settings


async def test_unknown_search_parameter_lenient_and_strict(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    await kit.post(kit.patient())
    lenient = (await api.get("Patient", params={"shoe-size": "44"})).json()
    assert lenient["total"] == 1 and "shoe-size" not in lenient["link"][0]["url"]
    outcome = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome[0]["resource"]["issue"][0]["severity"] == "warning"
    strict = await api.get(
        "Patient", params={"shoe-size": "44"}, headers={"Prefer": "handling=strict"}
    )
    kit.outcome(strict, 400)


async def test_post_search_with_form_body(api: httpx.AsyncClient, kit: Kit) -> None:
    await kit.post(kit.patient(family="Berg"))
    await kit.post(kit.patient(family="Dal"))
    r = await api.post("Patient/_search", data={"name": "Berg"})
    assert r.status_code == 200 and r.json()["total"] == 1


async def test_format_and_charset_variants_are_accepted(api: httpx.AsyncClient, kit: Kit) -> None:
    body = httpx.Request("POST", "x", json=kit.patient()).content
    for kind in ("application/fhir+json; charset=utf-8", "application/json"):
        r = await api.post("Patient", content=body, headers={"Content-Type": kind})
        assert r.status_code == 201, kind
    assert (await api.get("metadata", params={"_format": "json"})).status_code == 200
    assert (
        await api.get("metadata", headers={"Accept": "application/fhir+json"})
    ).status_code == 200


async def test_validate_operation_never_stores(api: httpx.AsyncClient, kit: Kit) -> None:
    bad = (await api.post("Patient/$validate", json={"resourceType": "Patient"})).json()
    assert bad["resourceType"] == "OperationOutcome"
    assert any(i["severity"] == "error" for i in bad["issue"])
    params = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": kit.patient()}],
    }
    good = await api.post("Patient/$validate", json=params)
    assert good.status_code == 200
    assert not [i for i in good.json()["issue"] if i["severity"] == "error"]
    assert await kit.count("Patient") == 0


async def test_request_id_is_echoed(api: httpx.AsyncClient, kit: Kit) -> None:
    r = await api.get("metadata", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert (await api.get("metadata")).headers["x-request-id"]


async def test_referral_creates_its_task_in_the_same_transaction(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()
    referral = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    found = (await api.get("Task", params={"focus": f"ServiceRequest/{referral['id']}"})).json()
    assert found["total"] == 1
    task = found["entry"][0]["resource"]
    assert task["status"] == "requested" and task["intent"] == "order"
    assert task["for"] == {"reference": refs["patient"]}
    assert task["owner"] == {"reference": refs["clinic"]}
    assert task["requester"] == {"reference": refs["role"]}
    assert task["basedOn"] == [{"reference": f"ServiceRequest/{referral['id']}"}]
    owned = (await api.get("Task", params={"owner": refs["clinic"], "status": "requested"})).json()
    assert owned["total"] == 1


async def test_same_referral_twice_is_one_referral(api: httpx.AsyncClient, kit: Kit) -> None:
    refs = await kit.gp_and_clinic()
    referral = kit.referral(refs["patient"], refs["role"], refs["clinic"], identifier="R-1")
    first = await api.post("ServiceRequest", json=referral)
    replay = await api.post("ServiceRequest", json=referral)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json()["id"] == first.json()["id"]
    changed = referral | {"note": [{"text": "same identifier, other content"}]}
    kit.outcome(await api.post("ServiceRequest", json=changed), 409)
    assert await kit.count("ServiceRequest") == 1 and await kit.count("Task") == 1


async def test_a_draft_referral_is_refused_and_nothing_stored(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()
    draft = kit.referral(refs["patient"], refs["role"], refs["clinic"]) | {"status": "draft"}
    issues = kit.outcome(await api.post("ServiceRequest", json=draft), 422)
    assert kit.expressions(issues) == {"ServiceRequest.status"}
    assert await kit.count("ServiceRequest") == 0 and await kit.count("Task") == 0


def posted_in_a_transaction(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0b7c4e9e-5a3d-4f2b-8c1d-000000000077", "resource": resource,
         "request": {"method": "POST", "url": resource["resourceType"]}}]}


@pytest.mark.parametrize("typed", [True, False])
async def test_a_referral_to_a_clinic_on_another_server_is_refused(
    api: httpx.AsyncClient, kit: Kit, typed: bool
) -> None:
    """No clinic here could own its Task: 422 at the reference, not a Task owned by nobody
    (typed) nor a silent re-route to a clinic of ours (untyped)."""
    refs = await kit.gp_and_clinic()
    referral = kit.referral(refs["patient"], refs["role"])
    referral["performer"] = [{"reference": f"https://other.example/fhir/{refs['clinic']}"}
                             | ({"type": "Organization"} if typed else {})]
    issues = kit.outcome(await api.post("ServiceRequest", json=referral), 422)
    assert kit.expressions(issues) == {"ServiceRequest.performer[0].reference"}
    assert issues[0]["code"] == "business-rule"
    issues = kit.outcome(await api.post("", json=posted_in_a_transaction(referral)), 422)
    assert kit.expressions(issues) == {"Bundle.entry[0].resource.performer[0].reference"}
    assert await kit.count("ServiceRequest") == 0 and await kit.count("Task") == 0


async def test_a_clinic_named_only_by_identifier_is_refused_and_a_draft_in_a_bundle_too(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """A performer typed Organization with no reference names no clinic here: 422, not a
    Task owned by nobody. Workflow refusals of a transaction entry point into the entry."""
    refs = await kit.gp_and_clinic()
    referral = kit.referral(refs["patient"], refs["role"])
    referral["performer"] = [{"type": "Organization", "display": "Ryggklinikken",
                              "identifier": {"system": canonical.NO_HER, "value": "1234"}}]
    issues = kit.outcome(await api.post("ServiceRequest", json=referral), 422)
    assert kit.expressions(issues) == {"ServiceRequest.performer[0]"}
    draft = kit.referral(refs["patient"], refs["role"], refs["clinic"]) | {"status": "draft"}
    issues = kit.outcome(await api.post("", json=posted_in_a_transaction(draft)), 422)
    assert kit.expressions(issues) == {"Bundle.entry[0].resource.status"}
    assert await kit.count("ServiceRequest") == 0 and await kit.count("Task") == 0


async def test_concurrent_conditional_referrals_make_one_referral_and_one_task(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    refs = await kit.gp_and_clinic()
    referral = kit.referral(refs["patient"], refs["role"], refs["clinic"], identifier="R-2")
    header = {"If-None-Exist": f"identifier={referral['identifier'][0]['system']}|R-2"}
    replies = await asyncio.gather(
        *(api.post("ServiceRequest", json=referral, headers=header) for _ in range(8))
    )
    assert sorted(r.status_code for r in replies) == [200] * 7 + [201]
    assert await kit.count("ServiceRequest") == 1 and await kit.count("Task") == 1
