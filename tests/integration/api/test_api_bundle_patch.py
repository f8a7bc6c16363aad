"""PATCH entries in transaction and batch Bundles (http.html#transaction): a JSON Patch in a
Binary, applied to the version the transaction reads, all or nothing with the rest; on both
engines."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

Kit = Any  # the `kit` fixture (tests/integration/api/conftest.py)
ORG = "urn:uuid:0f5e8a2e-5555-4d6c-9b1a-2f0e5b7c9a05"


def patch_entry(url: str, operations: Any, **request: str) -> dict[str, Any]:
    data = base64.b64encode(json.dumps(operations).encode()).decode()
    return {"resource": {"resourceType": "Binary", "contentType": "application/json-patch+json",
                         "data": data},
            "request": {"method": "PATCH", "url": url, **request}}


def bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


async def test_a_transaction_patches_beside_a_create(api: httpx.AsyncClient, kit: Kit) -> None:
    patient = await kit.post(kit.patient())
    path = f"Patient/{patient['id']}"
    new_org = {"resource": kit.organization("Ny legepraksis"), "fullUrl": ORG,
               "request": {"method": "POST", "url": "Organization"}}
    ops = [{"op": "replace", "path": "/name/0/family", "value": "Hansen"},
           {"op": "add", "path": "/managingOrganization", "value": {"reference": ORG}}]
    response = await api.post("", json=bundle("transaction", patch_entry(path, ops), new_org))
    assert response.status_code == 200, response.text
    answers = [e["response"] for e in response.json()["entry"]]
    assert answers[0]["status"].startswith("200") and answers[0]["etag"] == 'W/"2"'
    assert answers[1]["status"].startswith("201")
    now = (await api.get(path)).json()
    org_id = answers[1]["location"].split("/")[1]
    assert now["name"][0]["family"] == "Hansen"
    assert now["managingOrganization"] == {"reference": f"Organization/{org_id}"}  # rewritten
    assert now["meta"]["versionId"] == "2"


async def test_a_failing_patch_fails_the_whole_transaction(api: httpx.AsyncClient,
                                                           kit: Kit) -> None:
    patient = await kit.post(kit.patient())
    path = f"Patient/{patient['id']}"
    orgs = await kit.count("Organization")
    create = {"resource": kit.organization(), "request": {"method": "POST", "url": "Organization"}}
    failing = [{"op": "test", "path": "/name/0/family", "value": "Someone else"}]
    issues = kit.outcome(await api.post("", json=bundle(
        "transaction", create, patch_entry(path, failing))), 422)
    assert kit.expressions(issues) == {"Bundle.entry[1].resource.data"}
    assert issues[0]["diagnostics"].startswith("operation 0: ")
    invalid = [{"op": "add", "path": "/gender", "value": "unknown-gender"}]
    issues = kit.outcome(await api.post("", json=bundle(
        "transaction", create, patch_entry(path, invalid))), 422)
    # the entry's resource is the Binary: the fault is at its data, the element named
    assert kit.expressions(issues) == {"Bundle.entry[1].resource.data"}
    assert any(i["diagnostics"].startswith("Patient.gender: ") for i in issues)
    retyped = [{"op": "replace", "path": "/id", "value": "other"}]
    kit.outcome(await api.post("", json=bundle("transaction", patch_entry(path, retyped))), 422)
    stale = patch_entry(path, [{"op": "add", "path": "/gender", "value": "male"}],
                        ifMatch='W/"7"')
    kit.outcome(await api.post("", json=bundle("transaction", create, stale)), 412)
    assert await kit.count("Organization") == orgs  # nothing of any of them stored
    assert (await api.get(path)).json()["meta"]["versionId"] == "1"


async def test_patch_entries_that_cannot_be_read_are_400(api: httpx.AsyncClient,
                                                         kit: Kit) -> None:
    patient = await kit.post(kit.patient())
    path = f"Patient/{patient['id']}"
    good = patch_entry(path, [{"op": "remove", "path": "/gender"}])
    fhirpath_patch = {**good, "resource": {"resourceType": "Parameters"}}
    other_type = {**good, "resource": {**good["resource"], "contentType": "application/json"}}
    not_base64 = {**good, "resource": {**good["resource"], "data": "%%%"}}
    not_json = {**good, "resource": {**good["resource"],
                                     "data": base64.b64encode(b"{nope").decode()}}
    odd_type = {**good, "resource": {**good["resource"], "contentType": 5}}
    no_resource = {"request": good["request"]}
    for odd, where in ((fhirpath_patch, "resource.resourceType"),
                       (other_type, "resource.contentType"), (not_base64, "resource.data"),
                       (not_json, "resource.data"), (no_resource, "resource"),
                       (odd_type, "resource.contentType")):
        issues = kit.outcome(await api.post("", json=bundle("transaction", odd)), 400)
        assert kit.expressions(issues) == {f"Bundle.entry[0].{where}"}, odd
    twice = bundle("transaction", good, {"resource": patient, "request": {"method": "PUT",
                                                                          "url": path}})
    kit.outcome(await api.post("", json=twice), 400)  # one resource touched twice
    unknown = patch_entry(f"Patient/{'0' * 8}-0000-4000-8000-{'0' * 12}", [])
    kit.outcome(await api.post("", json=bundle("transaction", unknown)), 404)
    conditional = patch_entry("Patient?identifier=x|1", [])  # supported: it matches nothing
    kit.outcome(await api.post("", json=bundle("transaction", conditional)), 404)


async def test_patch_references_follow_what_the_bundle_resolved(api: httpx.AsyncClient,
                                                               kit: Kit) -> None:
    """A POST whose ifNoneExist matched creates nothing: a patch naming its fullUrl points at
    the resource it matched. A PATCH entry's own fullUrl names the patched resource."""
    existing = await kit.post(kit.organization("Legesenteret", her_id="4455667"))
    patient = await kit.post(kit.patient())
    path = f"Patient/{patient['id']}"
    same_org = {"resource": kit.organization("Legesenteret", her_id="4455667"), "fullUrl": ORG,
                "request": {"method": "POST", "url": "Organization",
                            "ifNoneExist": f"identifier={existing['identifier'][0]['system']}"
                                           "|4455667"}}
    link = patch_entry(path, [{"op": "add", "path": "/managingOrganization",
                               "value": {"reference": ORG}}])
    done = await api.post("", json=bundle("transaction", same_org, link))
    assert done.status_code == 200, done.text
    assert [e["response"]["status"].split()[0] for e in done.json()["entry"]] == ["200", "200"]
    now = (await api.get(path)).json()
    assert now["managingOrganization"] == {"reference": f"Organization/{existing['id']}"}
    patched_url = "urn:uuid:0f5e8a2e-6666-4d6c-9b1a-2f0e5b7c9a06"
    renamed = {**patch_entry(path, [{"op": "replace", "path": "/name/0/family",
                                     "value": "Lie"}]), "fullUrl": patched_url}
    role = {"resource": {"resourceType": "Observation", "status": "final",
                         "code": {"text": "weight"}, "subject": {"reference": patched_url}},
            "request": {"method": "POST", "url": "Observation"}}
    second = (await api.post("", json=bundle("transaction", renamed, role))).json()
    assert [e["response"]["location"].split("/_history")[0].split("/")[0]
            for e in second["entry"]] == ["Patient", "Observation"]
    observation = (await api.get(second["entry"][1]["response"]["location"]
                                 .split("/_history")[0])).json()
    assert observation["subject"] == {"reference": path}
    conditional = patch_entry(path, [{"op": "add", "path": "/managingOrganization", "value": {
        "reference": "Organization?identifier=x|1"}}])
    kit.outcome(await api.post("", json=bundle("transaction", conditional)), 400)


async def test_batch_patch_entries_answer_alone(api: httpx.AsyncClient, kit: Kit) -> None:
    patient = await kit.post(kit.patient())
    path = f"Patient/{patient['id']}"
    ok = patch_entry(path, [{"op": "replace", "path": "/name/0/family", "value": "Berg"}])
    data = ok["resource"]["data"]
    ok["resource"]["data"] = data[:8] + "\r\n " + data[8:]  # base64Binary may hold whitespace
    failing = patch_entry(path, [{"op": "remove", "path": "/nothing"}])
    answer = (await api.post("", json=bundle("batch", ok, failing))).json()
    statuses = [e["response"]["status"].split()[0] for e in answer["entry"]]
    assert statuses == ["200", "422"]
    assert (await api.get(path)).json()["name"][0]["family"] == "Berg"
