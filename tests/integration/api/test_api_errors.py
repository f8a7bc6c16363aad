"""Every failure is an OperationOutcome with the right status, and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from service.store.errors import Deadlocked
from service.store.repository import Repository

Kit = Any  # the `kit` fixture (tests/integration/api/conftest.py)


async def test_400_malformed_json(api: httpx.AsyncClient, kit: Kit) -> None:
    r = await api.post(
        "Patient",
        content=b'{"resourceType": "Patient",',
        headers={"Content-Type": "application/fhir+json"},
    )
    kit.outcome(r, 400)
    assert await kit.count("Patient") == 0


async def test_400_body_not_an_object(api: httpx.AsyncClient, kit: Kit) -> None:
    kit.outcome(await api.post("Patient", json=[kit.patient()]), 400)
    assert await kit.count("Patient") == 0


async def test_400_resource_type_does_not_match_url(api: httpx.AsyncClient, kit: Kit) -> None:
    issues = kit.outcome(await api.post("Organization", json=kit.patient()), 400)
    assert "resourceType" in kit.expressions(issues)
    assert await kit.count("Patient") == 0 and await kit.count("Organization") == 0


async def test_400_put_body_id_differs_from_url(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    other = created | {"id": "00000000-0000-0000-0000-000000000000", "gender": "male"}
    issues = kit.outcome(await api.put(f"Patient/{created['id']}", json=other), 400)
    assert "Patient.id" in kit.expressions(issues)
    assert (await api.get(f"Patient/{created['id']}")).json()["meta"]["versionId"] == "1"


async def test_400_malformed_if_match(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    r = await api.put(f"Patient/{created['id']}", json=created, headers={"If-Match": "yesterday"})
    kit.outcome(r, 400)


async def test_404_unknown_id_type_and_route(api: httpx.AsyncClient, kit: Kit) -> None:
    kit.outcome(await api.get("Patient/7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11"), 404)
    kit.outcome(await api.get("Patient/not-a-uuid"), 404)
    kit.outcome(await api.get("Spaceship"), 404)
    kit.outcome(await api.post("Spaceship", json={"resourceType": "Spaceship"}), 404)
    kit.outcome(await api.get("Patient/7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11/oops/x/y"), 404)


async def test_405_unsupported_method(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    r = await api.post(f"Patient/{created['id']}", json=kit.patient())  # PATCH is supported now
    kit.outcome(r, 405)
    assert r.headers["allow"] == "GET, HEAD, PUT, PATCH, DELETE"
    metadata = await api.put("metadata", json={})
    kit.outcome(metadata, 405)
    assert metadata.headers["allow"] == "GET, HEAD"


async def test_405_put_to_a_new_id_no_update_create(api: httpx.AsyncClient, kit: Kit) -> None:
    rid = "7f1c4a56-3b7e-4c59-9a86-2c9d1e4f0a11"
    kit.outcome(await api.put(f"Patient/{rid}", json=kit.patient() | {"id": rid}), 405)
    assert await kit.count("Patient") == 0


async def test_406_xml_only_client(api: httpx.AsyncClient, kit: Kit) -> None:
    kit.outcome(await api.get("metadata", headers={"Accept": "application/fhir+xml"}), 406)
    kit.outcome(await api.get("metadata", params={"_format": "xml"}), 406)


async def test_409_same_identifier_other_content(api: httpx.AsyncClient, kit: Kit) -> None:
    refs = await kit.gp_and_clinic()
    referral = kit.referral(refs["patient"], refs["role"], refs["clinic"], identifier="D-1")
    await kit.post(referral)
    issues = kit.outcome(
        await api.post("ServiceRequest", json=referral | {"priority": "urgent"}), 409
    )
    assert "ServiceRequest.identifier" in kit.expressions(issues)
    assert await kit.count("ServiceRequest") == 1 and await kit.count("Task") == 1


async def test_410_deleted(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    await api.delete(f"Patient/{created['id']}")
    kit.outcome(await api.get(f"Patient/{created['id']}"), 410)


async def test_412_stale_delete(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    r = await api.delete(f"Patient/{created['id']}", headers={"If-Match": 'W/"7"'})
    kit.outcome(r, 412)
    assert await kit.count("Patient") == 1


async def test_413_by_content_length(api: httpx.AsyncClient, kit: Kit) -> None:
    big = kit.patient() | {"text": {"status": "generated", "div": "x" * (kit.max_body + 1)}}
    kit.outcome(await api.post("Patient", json=big), 413)
    assert await kit.count("Patient") == 0


async def test_413_by_counting_a_chunked_body(api: httpx.AsyncClient, kit: Kit) -> None:
    async def chunks() -> Any:
        yield b'{"resourceType": "Patient", "x": "'
        for _ in range(kit.max_body // 1000 + 1):
            yield b"y" * 1000
        yield b'"}'

    r = await api.post(
        "Patient", content=chunks(), headers={"Content-Type": "application/fhir+json"}
    )
    assert "content-length" not in r.request.headers
    kit.outcome(r, 413)
    assert await kit.count("Patient") == 0


async def test_415_xml_body(api: httpx.AsyncClient, kit: Kit) -> None:
    r = await api.post(
        "Patient",
        content=b"<Patient xmlns='http://hl7.org/fhir'/>",
        headers={"Content-Type": "application/fhir+xml"},
    )
    kit.outcome(r, 415)
    assert await kit.count("Patient") == 0


async def test_422_profile_failure_points_at_the_fault(api: httpx.AsyncClient, kit: Kit) -> None:
    refs = await kit.gp_and_clinic()
    referral = kit.referral(refs["patient"], refs["role"])
    del referral["reasonCode"]
    issues = kit.outcome(await api.post("ServiceRequest", json=referral), 422)
    assert any(e.startswith("ServiceRequest.reasonCode") for e in kit.expressions(issues))
    assert await kit.count("ServiceRequest") == 0 and await kit.count("Task") == 0


async def test_422_on_update_changes_nothing(api: httpx.AsyncClient, kit: Kit) -> None:
    created = await kit.post(kit.patient())
    broken = created | {"identifier": []}
    kit.outcome(await api.put(f"Patient/{created['id']}", json=broken), 422)
    assert (await api.get(f"Patient/{created['id']}")).json()["meta"]["versionId"] == "1"


async def test_unknown_route_and_bad_search_values_are_outcomes(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    kit.outcome(await api.get("Patient", params={"_count": "many"}), 400)
    kit.outcome(await api.get("/nowhere"), 404)


async def test_a_reference_to_a_type_its_element_does_not_list_is_422(
        api: httpx.AsyncClient, kit: Any) -> None:
    """FHIR R4: CarePlan.subject is Reference(Patient | Group); fhir.resources does not check
    target types, the base rules do; nothing is stored."""
    clinic = await kit.post(kit.organization())
    before = await kit.count("CarePlan")
    response = await api.post("CarePlan", json={
        "resourceType": "CarePlan", "status": "active", "intent": "plan",
        "subject": {"reference": f"Organization/{clinic['id']}"}})
    issues = kit.outcome(response, 422)
    assert kit.expressions(issues) == {"CarePlan.subject.reference"}
    assert await kit.count("CarePlan") == before


async def test_422_json_that_fhir_resources_would_convert_is_refused(
        api: httpx.AsyncClient, kit: Kit) -> None:
    """FHIR's JSON format (json.html): pydantic's lax mode takes "false" for a boolean and a
    number for a dateTime, and lets null and [] through; stored as sent, a strict client
    could not read them back. Each is 422 at its element, and nothing is stored."""
    refs = await kit.gp_and_clinic()
    referral = kit.referral(refs["patient"], refs["role"]) | {
        "doNotPerform": "false", "authoredOn": 20260101, "note": None, "supportingInfo": []}
    issues = kit.outcome(await api.post("ServiceRequest", json=referral), 422)
    assert kit.expressions(issues) >= {
        "ServiceRequest.doNotPerform", "ServiceRequest.authoredOn", "ServiceRequest.note",
        "ServiceRequest.supportingInfo"}
    assert await kit.count("ServiceRequest") == 0 and await kit.count("Task") == 0

    created = await kit.post(kit.patient())
    issues = kit.outcome(await api.put(f"Patient/{created['id']}",
                                       json=created | {"active": "true"}), 422)
    assert kit.expressions(issues) == {"Patient.active"}
    assert (await api.get(f"Patient/{created['id']}")).json()["meta"]["versionId"] == "1"

    patients = await kit.count("Patient")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:6f0c3c2e-1d2b-4c6a-9f3e-0a1b2c3d4e5f",
         "resource": kit.patient() | {"multipleBirthInteger": "2"},
         "request": {"method": "POST", "url": "Patient"}}]}
    issues = kit.outcome(await api.post("", json=bundle), 422)
    assert kit.expressions(issues) == {"Bundle.entry[0].resource.multipleBirthInteger"}
    assert await kit.count("Patient") == patients


@pytest.mark.parametrize("how", ["PUT", "PATCH", "conditional PUT", "conditional PATCH",
                                 "DELETE", "conditional DELETE"])
async def test_a_deadlocked_write_runs_again_then_answers_409(
        api: httpx.AsyncClient, kit: Kit, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """A write PostgreSQL ends to break a deadlock (`Deadlocked`, after it wrote) was rolled
    back: it runs again, twice at most, then answers 409 lock-error; the run that lands
    writes once. Rows a workflow changes are locked only when written, so a plain write can
    meet this too (`Store.transact`)."""
    created = await kit.post(kit.patient())
    pid, calls, failures = created["id"], [], 2
    name = "delete" if how.endswith("DELETE") else "update_reporting"
    real = getattr(Repository, name)

    async def deadlocking(self: Repository, *args: Any, **kwargs: Any) -> Any:
        done = await real(self, *args, **kwargs)
        calls.append(1)
        if len(calls) <= failures:
            raise Deadlocked()
        return done

    monkeypatch.setattr(Repository, name, deadlocking)
    ops = json.dumps([{"op": "add", "path": "/gender", "value": "male"}])
    patching = {"Content-Type": "application/json-patch+json"}
    body = {k: v for k, v in created.items() if k != "meta"} | {"gender": "male"}
    by_id, by_criteria = f"Patient/{pid}", f"Patient?_id={pid}"

    async def send() -> httpx.Response:
        if how in ("PUT", "conditional PUT"):
            return await api.put(by_id if how == "PUT" else by_criteria, json=body)
        if how in ("PATCH", "conditional PATCH"):
            return await api.patch(by_id if how == "PATCH" else by_criteria, content=ops,
                                   headers=patching)
        return await api.delete(by_id if how == "DELETE" else by_criteria)

    failures = 3
    issues = kit.outcome(await send(), 409)
    assert issues[0]["code"] == "lock-error" and len(calls) == 3
    current = (await api.get(by_id)).json()
    assert current["meta"]["versionId"] == "1" and "gender" not in current
    calls.clear()
    failures = 2
    landed = await send()
    assert landed.status_code in (200, 204), landed.text
    assert len(calls) == 3
    history = (await api.get(f"{by_id}/_history")).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]
            if "resource" in e] == (["2", "1"] if "DELETE" not in how else ["1"])
    assert len(history["entry"]) == 2


async def test_a_deadlocked_one_statement_create_runs_again(
        api: httpx.AsyncClient, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain create's one statement (`Store.one_shot`) reported as Deadlocked runs again
    (`Store.transact`), twice at most, then answers 409 lock-error. That `Store.one_shot`
    reports PostgreSQL's own deadlock as Deadlocked is shown by
    test_a_real_deadlock_of_the_one_statement_runs_again (a real crosswise deadlock)."""
    from service.store.db import Store

    real_one_shot, real_create = Store.one_shot, Repository.create_many
    calls: list[bool] = []
    failures = 2

    def counting(self: Store, caller: Any, **kwargs: Any) -> Any:
        calls.append(True)  # each run of the create enters the one-statement path
        return real_one_shot(self, caller, **kwargs)

    async def deadlocking(self: Repository, *args: Any, **kwargs: Any) -> Any:
        if len(calls) <= failures:
            raise Deadlocked()
        return await real_create(self, *args, **kwargs)

    monkeypatch.setattr(Store, "one_shot", counting)
    monkeypatch.setattr(Repository, "create_many", deadlocking)
    made = await api.post("Patient", json=kit.patient())
    assert made.status_code == 201, made.text
    assert calls == [True, True, True] and await kit.count("Patient") == 1
    calls.clear()
    failures = 3
    issues = kit.outcome(await api.post("Patient", json=kit.patient()), 409)
    assert issues[0]["code"] == "lock-error" and len(calls) == 3
    assert await kit.count("Patient") == 1
