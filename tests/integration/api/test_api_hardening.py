"""Hardening over the API, on SQLite and PostgreSQL: no client creates a Task (the forged-Task
feedback attack), an update never takes access away, a hidden referral's replay answers
neutrally, POST /metadata is 405, and the feedback carries only what the report cites."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from profiles import canonical
from service.demo.loader import load_demo
from service.store import outbox
from service.store.model import SYSTEM, NewResource
from service.workflow import referrals

from .conftest import Kit

P = "0b7c4e9e-5a3d-4f2b-8c1d-0000000000"
OSLO_PATIENT, ROLE = f"Patient/{P}01", f"PractitionerRole/{P}02"
OSLO, LILLESTROM = f"Organization/{P}03", f"Organization/{P}09"
REASON = {"coding": [{"system": canonical.REJECTION_REASON, "code": "no-capacity"}]}


# --- helpers ----------------------------------------------------------------------------------


def acting(org: str, version: Any = None) -> dict[str, str]:
    headers = {"X-Acting-Organization": org}
    if version is not None:
        headers["If-Match"] = f'W/"{version}"'
    return headers


async def referral_with_task(kit: Kit) -> tuple[dict[str, str], dict[str, Any]]:
    refs = await kit.gp_and_clinic()
    refs["stranger"] = f"Organization/{(await kit.post(kit.organization('Annen'))) ['id']}"
    sr = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    refs["referral"] = f"ServiceRequest/{sr['id']}"
    page = (await kit.api.get("Task", params={"focus": refs["referral"]})).json()
    return refs, page["entry"][0]["resource"]


async def move(kit: Kit, task: dict[str, Any], org: str, status: str) -> dict[str, Any]:
    current = (await kit.api.get(f"Task/{task['id']}")).json()
    body = {k: v for k, v in current.items() if k != "meta"} | {"status": status}
    if status == "rejected":
        body["statusReason"] = REASON
    r = await kit.api.put(f"Task/{task['id']}", json=body,
                          headers=acting(org, current["meta"]["versionId"]))
    assert r.status_code == 200, r.text
    return dict(r.json())


def report(referral: str, patient: str, performer: str, **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport",
        "meta": {"profile": [canonical.ASSESSMENT_FEEDBACK]},
        "basedOn": [{"reference": referral}],
        "status": "final",
        "code": {"coding": [{"system": canonical.FEEDBACK_CODE, "code": "assessment-feedback"}]},
        "subject": {"reference": patient},
        "issued": "2026-12-05T10:00:00+01:00",
        "performer": [{"reference": performer}],
        "conclusion": "Non-specific low back pain; exercise and graded activity.",
        "conclusionCode": [
            {"coding": [{"system": canonical.TRIAGE_CATEGORY, "code": "non-specific"}]}
        ],
    } | more


def observation(referral: str, patient: str, value: float = 30.0) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "pain"},
        "subject": {"reference": patient},
        "basedOn": [{"reference": referral}],
        "valueQuantity": {"value": value},
    }


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": resource,
             "request": {"method": "POST", "url": resource["resourceType"]}}
            for resource in entries
        ],
    }


async def outbox_rows(kit: Kit, referral: str) -> list[Any]:
    """Every outbound message of a referral (`ServiceRequest/<id>`)."""
    async with kit.store.begin(SYSTEM) as repo:
        return list(await outbox.status(repo.connection, referral_id=referral.split("/")[1]))


def forged_task(refs: dict[str, str], owner: str, status: str = "accepted") -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "meta": {"profile": [canonical.REFERRAL_TASK]},
        "status": status,
        "intent": "order",
        "focus": {"reference": refs["referral"]},
        "basedOn": [{"reference": refs["referral"]}],
        "for": {"reference": refs["patient"]},
        "requester": {"reference": refs["role"]},
        "owner": {"reference": owner},
        "authoredOn": "2026-12-01T10:00:00.000+00:00",
    }


# --- 1. no client creates a Task ------------------------------------------------------------


@pytest.mark.parametrize("who", ["system", "clinic", "stranger"])
async def test_post_task_is_405_for_every_caller(kit: Kit, who: str) -> None:
    refs, _ = await referral_with_task(kit)
    headers = {} if who == "system" else acting(refs[who])
    forged = forged_task(refs, refs["stranger"] if who == "stranger" else refs["clinic"])
    for extra in ({}, {"If-None-Exist": "status=accepted"}):
        r = await kit.api.post("Task", json=forged, headers=headers | extra)
        issues = kit.outcome(r, 405)
        assert issues[0]["code"] == "not-supported"
        assert "created by the service with their referral" in issues[0]["diagnostics"]
        assert r.headers["allow"] == "GET, HEAD, PUT, PATCH"  # conditional update, patch
    assert await kit.count("Task") == 1


async def test_transaction_or_batch_task_entry_is_405_and_stores_nothing(kit: Kit) -> None:
    refs, task = await referral_with_task(kit)
    bundle = transaction(kit.patient(family="Ny"), forged_task(refs, refs["stranger"]))
    for headers in ({}, acting(refs["stranger"])):
        issues = kit.outcome(await kit.api.post("", json=bundle, headers=headers), 405)
        assert kit.expressions(issues) <= {"Bundle.entry[1]"}
        assert "created by the service" in issues[0]["diagnostics"]
        batch = bundle | {"type": "batch"}
        r = await kit.api.post("", json=batch, headers=headers)
        assert r.status_code == 200, r.text
        statuses = [e["response"]["status"] for e in r.json()["entry"]]
        assert statuses[0].startswith("201") and statuses[1].startswith("405")
    assert await kit.count("Task") == 1
    assert await kit.count("Patient") == 3  # the referral's, and one per batch
    assert (await kit.api.get(f"Task/{task['id']}")).json()["meta"]["versionId"] == "1"


async def test_capability_statement_lists_no_create_for_task(kit: Kit) -> None:
    cs = (await kit.api.get("metadata")).json()
    by_type = {r["type"]: r for r in cs["rest"][0]["resource"]}
    task = by_type["Task"]
    assert "create" not in {i["code"] for i in task["interaction"]}
    assert task["conditionalCreate"] is False
    assert "create" in {i["code"] for i in by_type["ServiceRequest"]["interaction"]}


async def test_forged_task_feedback_is_refused(kit: Kit) -> None:
    """The attack: an unrelated organisation makes a Task for someone's referral, owned by
    itself and accepted, then submits feedback. The POST is 405; a Task stored past the API
    (data from before the fix) is no part of the service's chain: feedback on it is 409,
    nothing is stored or sent, and the genuine Task still takes the clinic's feedback."""
    refs, genuine = await referral_with_task(kit)
    stranger = acting(refs["stranger"])
    kit.outcome(await kit.api.post("Task", json=forged_task(refs, refs["stranger"]),
                                   headers=stranger), 405)
    forged = forged_task(refs, refs["stranger"]) | {"id": str(uuid.uuid4())}
    async with kit.store.begin(SYSTEM) as repo:
        await repo.create_many([NewResource(forged, frozenset({refs["stranger"]}))])
    feedback = report(refs["referral"], refs["patient"], refs["stranger"])
    for attempt in (
        kit.api.post("DiagnosticReport", json=feedback, headers=stranger),
        kit.api.post("", json=transaction(feedback), headers=stranger),
        kit.api.post("DiagnosticReport", json=feedback),  # the system, performer the stranger
    ):
        kit.outcome(await attempt, 409)
    assert await kit.count("DiagnosticReport") == 0
    assert await outbox_rows(kit, refs["referral"]) == []
    assert (await kit.api.get(f"Task/{forged['id']}")).json()["status"] == "accepted"
    # the genuine chain is untouched and still works
    await move(kit, genuine, refs["clinic"], "accepted")
    mine = report(refs["referral"], refs["patient"], refs["clinic"])
    r = await kit.api.post("DiagnosticReport", json=mine, headers=acting(refs["clinic"]))
    assert r.status_code == 201, r.text
    assert (await kit.api.get(f"Task/{genuine['id']}")).json()["status"] == "completed"
    assert (await kit.api.get(f"Task/{forged['id']}")).json()["status"] == "accepted"


async def test_two_open_tasks_in_the_chain_are_refused_not_guessed(kit: Kit) -> None:
    """Two ReferralTasks made with the referral (as intake makes one), both accepted by the
    clinic: the feedback cannot tell which it answers (409), nothing is stored."""
    refs = await kit.gp_and_clinic()
    sr = kit.referral(refs["patient"], refs["role"], refs["clinic"]) | {"id": str(uuid.uuid4())}
    referral = f"ServiceRequest/{sr['id']}"
    orgs = frozenset({refs["practice"], refs["clinic"]})
    async with kit.store.begin(SYSTEM) as repo:
        made = [
            referrals.build_referral_task(sr, task_id=str(uuid.uuid4()), now=repo.now)
            | {"status": "accepted"}
            for _ in range(2)
        ]
        await repo.create_many([NewResource(sr, orgs), *(NewResource(t, orgs) for t in made)])
    mine = report(referral, refs["patient"], refs["clinic"])
    issues = kit.outcome(
        await kit.api.post("DiagnosticReport", json=mine, headers=acting(refs["clinic"])), 409
    )
    assert "2 open Tasks" in issues[0]["diagnostics"]
    assert await kit.count("DiagnosticReport") == 0
    for task in made:
        assert (await kit.api.get(f"Task/{task['id']}")).json()["status"] == "accepted"


async def test_feedback_on_a_rerouted_task_completes_it(kit: Kit) -> None:
    """The chain grows by rerouting: the second clinic's Task takes the feedback."""
    await load_demo(kit.store, kit.base)
    sr = await kit.post(kit.referral(OSLO_PATIENT, ROLE))
    referral = f"ServiceRequest/{sr['id']}"
    [first] = (await kit.api.get("Task", params={"focus": referral})).json()["entry"]
    await move(kit, first["resource"], OSLO, "rejected")
    page = (await kit.api.get("Task", params={"focus": referral, "status": "requested"})).json()
    [second] = [e["resource"] for e in page["entry"]]
    assert second["owner"] == {"reference": LILLESTROM}
    await move(kit, second, LILLESTROM, "accepted")
    mine = report(referral, OSLO_PATIENT, LILLESTROM)
    r = await kit.api.post("DiagnosticReport", json=mine, headers=acting(LILLESTROM))
    assert r.status_code == 201, r.text
    assert (await kit.api.get(f"Task/{second['id']}")).json()["status"] == "completed"


# --- 2. an update never takes access away ---------------------------------------------------


async def test_clinic_keeps_its_patient_after_put_and_patch(kit: Kit) -> None:
    refs = await kit.gp_and_clinic()
    clinic = acting(refs["clinic"])
    person = await kit.post(kit.patient(family="Egen"), **clinic)
    ref = f"Patient/{person['id']}"
    body = {k: v for k, v in person.items() if k != "meta"} | {"gender": "female"}
    r = await kit.api.put(ref, json=body, headers=clinic)
    assert r.status_code == 200, r.text
    assert (await kit.api.get(ref, headers=clinic)).json()["gender"] == "female"
    ops = [{"op": "replace", "path": "/gender", "value": "other"}]
    r = await kit.api.patch(ref, json=ops,
                            headers=clinic | {"Content-Type": "application/json-patch+json"})
    assert r.status_code == 200, r.text
    assert (await kit.api.get(ref, headers=clinic)).json()["gender"] == "other"
    # and a transaction PUT entry
    body = (await kit.api.get(ref, headers=clinic)).json()
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": body | {"gender": "male"}, "request": {"method": "PUT", "url": ref}}]}
    assert (await kit.api.post("", json=bundle, headers=clinic)).status_code == 200
    assert (await kit.api.get(ref, headers=clinic)).json()["gender"] == "male"
    assert (await kit.api.get(ref, headers=acting(refs["practice"]))).status_code == 404


async def test_gp_edit_of_a_routed_referral_keeps_the_routed_clinic(kit: Kit) -> None:
    await load_demo(kit.store, kit.base)
    sr = await kit.post(kit.referral(OSLO_PATIENT, ROLE))
    referral = f"ServiceRequest/{sr['id']}"
    assert (await kit.api.get(referral, headers=acting(OSLO))).status_code == 200
    gp_org = (await kit.api.get(ROLE)).json()["organization"]["reference"]
    current = (await kit.api.get(referral, headers=acting(gp_org))).json()
    body = {k: v for k, v in current.items() if k != "meta"}
    body["note"] = [{"text": "Worse at night."}]
    r = await kit.api.put(referral, json=body,
                          headers=acting(gp_org, current["meta"]["versionId"]))
    assert r.status_code == 200, r.text
    seen = await kit.api.get(referral, headers=acting(OSLO))
    assert seen.status_code == 200 and seen.json()["note"] == [{"text": "Worse at night."}]
    assert (await kit.api.get(referral, headers=acting(gp_org))).status_code == 200


async def test_clinic_amending_its_feedback_observation_keeps_the_gp(kit: Kit) -> None:
    refs, task = await referral_with_task(kit)
    await move(kit, task, refs["clinic"], "accepted")
    obs = observation(refs["referral"], refs["patient"])
    bundle = transaction(report(refs["referral"], refs["patient"], refs["clinic"]), obs)
    bundle["entry"][0]["resource"]["result"] = [{"reference": bundle["entry"][1]["fullUrl"]}]
    clinic = acting(refs["clinic"])
    r = await kit.api.post("", json=bundle, headers=clinic)
    assert r.status_code == 200, r.text
    obs_ref = r.json()["entry"][1]["response"]["location"].split("/_history")[0]
    gp = acting(refs["practice"])
    assert (await kit.api.get(obs_ref, headers=gp)).status_code == 200
    current = (await kit.api.get(obs_ref, headers=clinic)).json()
    body = {k: v for k, v in current.items() if k != "meta"} | {"status": "amended"}
    r = await kit.api.put(obs_ref, json=body, headers=clinic)
    assert r.status_code == 200, r.text
    seen = await kit.api.get(obs_ref, headers=gp)
    assert seen.status_code == 200 and seen.json()["status"] == "amended"
    assert (await kit.api.get(obs_ref, headers=clinic)).status_code == 200


# --- 3. a hidden referral's replay ----------------------------------------------------------


async def test_replay_of_a_hidden_referral_is_a_neutral_409(kit: Kit) -> None:
    refs, _ = await referral_with_task(kit)
    referral = (await kit.api.get(refs["referral"])).json()
    body = {k: v for k, v in referral.items() if k not in ("id", "meta")}
    stranger = acting(refs["stranger"])
    for attempt in (
        kit.api.post("ServiceRequest", json=body, headers=stranger),
        kit.api.post("", json=transaction(body), headers=stranger),
    ):
        issues = kit.outcome(await attempt, 409)
        said = json.dumps(issues)
        assert "already in use for this sender" in said
        assert "retry" not in said and "referral?" not in said and referral["id"] not in said
    assert await kit.count("ServiceRequest") == 1 and await kit.count("Task") == 1
    # the GP's own replay is still the stored referral
    again = await kit.api.post("ServiceRequest", json=body)
    assert (again.status_code, again.json()["id"]) == (200, referral["id"])


# --- 5. POST /metadata ----------------------------------------------------------------------


async def test_post_metadata_is_405_with_allow_get_head(kit: Kit) -> None:
    r = await kit.api.post("metadata", json={"resourceType": "Patient"})
    issues = kit.outcome(r, 405)
    assert issues[0]["code"] == "not-supported"
    assert r.headers["allow"] == "GET, HEAD"
    assert (await kit.api.get("metadata")).status_code == 200


# --- 4. a report carries what it cites, not the whole Bundle --------------------------------


async def test_two_reports_in_one_bundle_each_carry_their_own_results(kit: Kit) -> None:
    refs = await kit.gp_and_clinic()
    await kit.post({
        "resourceType": "Endpoint", "status": "active",
        "connectionType": {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                           "code": "hl7-fhir-rest"},
        "managingOrganization": {"reference": refs["practice"]},
        "payloadType": [{"text": "FHIR message"}], "address": "https://gp.test/fhir",
    })
    second = await kit.post(kit.patient(fnr="01017010251", family="Andre"))
    patients = [refs["patient"], f"Patient/{second['id']}"]
    referrals_ = []
    for patient in patients:
        sr = await kit.post(kit.referral(patient, refs["role"], refs["clinic"]))
        referral = f"ServiceRequest/{sr['id']}"
        task = (await kit.api.get("Task", params={"focus": referral})).json()["entry"][0]
        await move(kit, task["resource"], refs["clinic"], "accepted")
        referrals_.append(referral)
    bundle = transaction(
        report(referrals_[0], patients[0], refs["clinic"]),
        report(referrals_[1], patients[1], refs["clinic"]),
        observation(referrals_[0], patients[0], 11.0),
        observation(referrals_[1], patients[1], 22.0),
    )
    urls = [e["fullUrl"] for e in bundle["entry"]]
    bundle["entry"][0]["resource"]["result"] = [{"reference": urls[2]}]
    bundle["entry"][1]["resource"]["result"] = [{"reference": urls[3]}]
    r = await kit.api.post("", json=bundle, headers=acting(refs["clinic"]))
    assert r.status_code == 200, r.text  # before: each report took both Observations (422)
    made = [e["response"]["location"].split("/_history")[0] for e in r.json()["entry"]]
    for n, referral in enumerate(referrals_):
        [message] = await outbox_rows(kit, referral)
        inside = {f"{e['resource']['resourceType']}/{e['resource']['id']}"
                  for e in json.loads(message.row.body)["entry"]}
        assert {made[n], made[2 + n]} <= inside
        assert made[1 - n] not in inside and made[3 - n] not in inside


async def test_an_organisation_on_another_server_is_not_ours(kit: Kit) -> None:
    """`http://other.example/fhir/Organization/<id>` names another server's organisation,
    even when its id is one of ours: it grants that clinic nothing, where the same
    reference on our own base (stored relative) does."""
    clinic = f"Organization/{(await kit.post(kit.organization('Ryggklinikken')))['id']}"
    foreign = await kit.post(kit.patient() | {
        "managingOrganization": {"reference": f"http://other.example/fhir/{clinic}"}})
    ours = await kit.post(kit.patient() | {
        "managingOrganization": {"reference": f"{kit.base}/{clinic}"}})
    assert ours["managingOrganization"] == {"reference": clinic}
    spelled = await kit.post(kit.patient() | {  # our base, as URLs may also spell it
        "managingOrganization": {"reference": f"{kit.base.replace('http://', 'HTTP://')}/{clinic}"}})
    assert spelled["managingOrganization"] == {"reference": clinic}
    kit.outcome(await kit.api.get(f"Patient/{foreign['id']}", headers=acting(clinic)), 404)
    seen = await kit.api.get(f"Patient/{ours['id']}", headers=acting(clinic))
    assert seen.status_code == 200, seen.text
    found = (await kit.api.get("Patient", headers=acting(clinic))).json()
    assert sorted(e["resource"]["id"] for e in found.get("entry", [])) == sorted(
        [ours["id"], spelled["id"]])
