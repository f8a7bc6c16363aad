"""Transaction and batch Bundles (http.html#transaction)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

Kit = Any  # the `kit` fixture (tests/integration/api/conftest.py)
PAT = "urn:uuid:0f5e8a2e-1111-4d6c-9b1a-2f0e5b7c9a01"
ORG = "urn:uuid:0f5e8a2e-2222-4d6c-9b1a-2f0e5b7c9a02"
DOC = "urn:uuid:0f5e8a2e-3333-4d6c-9b1a-2f0e5b7c9a03"
ROLE = "urn:uuid:0f5e8a2e-4444-4d6c-9b1a-2f0e5b7c9a04"


def entry(resource: dict[str, Any], full_url: str | None = None, **request: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }
    if full_url:
        out["fullUrl"] = full_url
    return out


def referral_transaction(kit: Kit, identifier: str = "T-1") -> dict[str, Any]:
    """The GP sends everything at once: patient, practice, GP, role and the referral."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry(kit.referral(PAT, ROLE, identifier=identifier)),
            entry(
                kit.patient(),
                PAT,
                ifNoneExist=f"identifier=urn:oid:2.16.578.1.12.4.1.4.1|{kit.patient()['identifier'][0]['value']}",
            ),
            entry(
                kit.organization("Legekontoret", her_id="4242"),
                ORG,
                ifNoneExist="identifier=urn:oid:2.16.578.1.12.4.1.2|4242",
            ),
            entry(kit.practitioner(), DOC),
            entry(kit.practitioner_role(DOC, ORG), ROLE),
        ],
    }


async def test_transaction_rewrites_urn_uuid_references(api: httpx.AsyncClient, kit: Kit) -> None:
    r = await api.post("", json=referral_transaction(kit))
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert bundle["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in bundle["entry"]]
    assert statuses == ["201 Created"] * 5
    referral, patient = bundle["entry"][0]["resource"], bundle["entry"][1]["resource"]
    role = bundle["entry"][4]["resource"]
    assert referral["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert referral["requester"] == {"reference": f"PractitionerRole/{role['id']}"}
    assert role["organization"]["reference"].startswith("Organization/")
    assert (
        bundle["entry"][0]["response"]["location"] == f"ServiceRequest/{referral['id']}/_history/1"
    )
    assert bundle["entry"][0]["fullUrl"] == f"{kit.base}/ServiceRequest/{referral['id']}"
    tasks = (await api.get("Task", params={"focus": f"ServiceRequest/{referral['id']}"})).json()
    assert tasks["total"] == 1


async def test_transaction_if_none_exist_reuses_and_redirects_references(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    await api.post("", json=referral_transaction(kit, "T-1"))
    r = await api.post("", json=referral_transaction(kit, "T-2"))
    bundle = r.json()
    statuses = [e["response"]["status"] for e in bundle["entry"]]
    assert statuses == ["201 Created", "200 OK", "200 OK", "201 Created", "201 Created"]
    patient_id = bundle["entry"][1]["resource"]["id"]
    assert bundle["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"
    assert await kit.count("Patient") == 1 and await kit.count("Organization") == 1
    assert await kit.count("ServiceRequest") == 2 and await kit.count("Task") == 2


async def test_replayed_transaction_makes_one_referral(api: httpx.AsyncClient, kit: Kit) -> None:
    bundle = referral_transaction(kit, "T-3")
    system = bundle["entry"][0]["resource"]["identifier"][0]["system"]
    bundle["entry"][0]["request"]["ifNoneExist"] = f"identifier={system}|T-3"
    first = (await api.post("", json=bundle)).json()
    again = (await api.post("", json=bundle)).json()
    assert first["entry"][0]["response"]["status"] == "201 Created"
    assert again["entry"][0]["response"]["status"] == "200 OK"
    assert again["entry"][0]["resource"]["id"] == first["entry"][0]["resource"]["id"]
    assert await kit.count("ServiceRequest") == 1 and await kit.count("Task") == 1


async def test_transaction_is_all_or_nothing(api: httpx.AsyncClient, kit: Kit) -> None:
    bundle = referral_transaction(kit)
    del bundle["entry"][0]["resource"]["reasonCode"]  # the referral breaks its profile
    r = await api.post("", json=bundle)
    issues = kit.outcome(r, 422)
    assert any(e.startswith("Bundle.entry[0].resource.reasonCode") for e in kit.expressions(issues))
    for rtype in ("Patient", "Organization", "Practitioner", "ServiceRequest", "Task"):
        assert await kit.count(rtype) == 0, rtype


async def test_transaction_failing_in_the_database_rolls_back(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    bundle = referral_transaction(kit)
    missing = "7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11"
    bundle["entry"].append({"request": {"method": "DELETE", "url": f"Patient/{missing}"}})
    r = await api.post("", json=bundle)
    issues = kit.outcome(r, 404)
    assert kit.expressions(issues) == set() or all(
        e.startswith("Bundle.entry[5]") for e in kit.expressions(issues)
    )
    assert await kit.count("ServiceRequest") == 0 and await kit.count("Patient") == 0


async def test_transaction_put_with_stale_if_match_fails_whole(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    patient = await kit.post(kit.patient())
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            entry(kit.organization()),
            {
                "resource": patient | {"gender": "female"},
                "request": {"method": "PUT", "url": f"Patient/{patient['id']}", "ifMatch": 'W/"5"'},
            },
        ],
    }
    kit.outcome(await api.post("", json=bundle), 412)
    assert await kit.count("Organization") == 0


async def test_transaction_put_and_get(api: httpx.AsyncClient, kit: Kit) -> None:
    patient = await kit.post(kit.patient())
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "GET", "url": f"Patient/{patient['id']}"}},
            {
                "resource": patient | {"gender": "female"},
                "request": {"method": "PUT", "url": f"Patient/{patient['id']}", "ifMatch": 'W/"1"'},
            },
            {"request": {"method": "GET", "url": "Patient?gender=female"}},
        ],
    }
    r = (await api.post("", json=bundle)).json()
    assert [e["response"]["status"] for e in r["entry"]] == ["200 OK"] * 3
    assert r["entry"][0]["resource"]["meta"]["versionId"] == "2"  # GETs run after PUTs
    assert r["entry"][2]["resource"]["type"] == "searchset"


async def test_batch_entries_succeed_and_fail_on_their_own(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    broken = kit.patient()
    del broken["identifier"]
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            entry(kit.patient()),
            entry(broken),
            {"request": {"method": "GET", "url": "Patient/7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11"}},
        ],
    }
    r = await api.post("", json=bundle)
    assert r.status_code == 200
    out = r.json()
    assert out["type"] == "batch-response"
    assert [e["response"]["status"] for e in out["entry"]] == [
        "201 Created",
        "422 Unprocessable Entity",
        "404 Not Found",
    ]
    outcome = out["entry"][1]["response"]["outcome"]
    assert any(
        x.startswith("Bundle.entry[1].resource")
        for i in outcome["issue"]
        for x in i.get("expression", [])
    )
    assert await kit.count("Patient") == 1


async def test_bundle_shape_errors(api: httpx.AsyncClient, kit: Kit) -> None:
    kit.outcome(await api.post("", json={"resourceType": "Bundle", "type": "collection"}), 400)
    kit.outcome(await api.post("", json=kit.patient()), 400)
    bad = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": kit.patient()}]}
    issues = kit.outcome(await api.post("", json=bad), 400)
    assert kit.expressions(issues) == {"Bundle.entry[0].request"}


async def test_unexpected_error_is_a_bare_500_logged_without_patient_data(
    api: httpx.AsyncClient,
    kit: Kit,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from service.api import interactions

    async def explode(*args: Any) -> Any:
        raise RuntimeError("Kari Nordmann 01017010170")

    monkeypatch.setattr(interactions, "read", explode)
    with caplog.at_level(logging.ERROR, logger="chiroref.api"):
        r = await api.get("Patient/7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11")
    issues = kit.outcome(r, 500)
    assert "Nordmann" not in r.text and "Nordmann" not in caplog.text
    assert "RuntimeError" in caplog.text and issues[0]["severity"] == "fatal"
