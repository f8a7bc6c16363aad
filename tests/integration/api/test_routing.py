"""Routing over the API with the demo directory, on SQLite and PostgreSQL: a referral that
names no clinic goes to the nearest participating clinic; a rejection reroutes it in the
same transaction; with no clinic left the chain ends in a failed Task the GP can read."""

from __future__ import annotations

from typing import Any

from profiles import canonical
from service.demo.loader import load_demo

from .conftest import Kit

P = "0b7c4e9e-5a3d-4f2b-8c1d-0000000000"
OSLO_PATIENT, DK_PATIENT, ROLE = f"Patient/{P}01", f"Patient/{P}08", f"PractitionerRole/{P}02"
OSLO, BERGEN, ODENSE, LILLESTROM = (f"Organization/{P}{n}" for n in ("03", "06", "07", "09"))
REASON = {"coding": [{"system": canonical.REJECTION_REASON, "code": "no-capacity"}]}


async def refer(kit: Kit, patient: str) -> tuple[str, dict[str, Any]]:
    await load_demo(kit.store, kit.base)
    sr = await kit.post(kit.referral(patient, ROLE))
    chain = await chain_of(kit, f"ServiceRequest/{sr['id']}")
    return f"ServiceRequest/{sr['id']}", chain[0]


async def chain_of(kit: Kit, referral: str) -> list[dict[str, Any]]:
    page = (await kit.api.get("Task", params={"focus": referral, "_count": "20"})).json()
    return [e["resource"] for e in page.get("entry", [])]


async def reject(kit: Kit, task: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in task.items() if k != "meta"}
    body |= {"status": "rejected", "statusReason": REASON}
    headers = {"X-Acting-Organization": task["owner"]["reference"],
               "If-Match": f'W/"{task["meta"]["versionId"]}"'}
    r = await kit.api.put(f"Task/{task['id']}", json=body, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_danish_patient_goes_to_odense(kit: Kit) -> None:
    _, task = await refer(kit, DK_PATIENT)
    assert task["owner"] == {"reference": ODENSE} and task["status"] == "requested"
    assert task["note"][0]["text"].startswith(f"Chosen {ODENSE}")


async def test_oslo_patient_goes_to_the_nearest_clinic_that_reads_the_referral(kit: Kit) -> None:
    referral, task = await refer(kit, OSLO_PATIENT)
    assert task["owner"] == {"reference": OSLO}
    r = await kit.api.get(referral, headers={"X-Acting-Organization": OSLO})
    assert r.status_code == 200
    assert "performer" not in r.json()  # the GP's referral stays as sent


async def test_rejection_reroutes_to_the_next_clinic(kit: Kit) -> None:
    referral, first = await refer(kit, OSLO_PATIENT)
    rejected = await reject(kit, first)
    assert rejected["status"] == "rejected"
    assert rejected["businessStatus"]["coding"][0]["code"] == "rerouted"
    chain = await chain_of(kit, referral)
    assert len(chain) == 2
    second = next(t for t in chain if t["id"] != first["id"])
    assert second["owner"] == {"reference": LILLESTROM} and second["status"] == "requested"
    assert second["input"][0]["valueReference"] == {"reference": f"Task/{first['id']}"}
    assert f"Excluded {OSLO}: already rejected" in second["note"][0]["text"]
    # the new clinic sees its Task and the referral
    mine = await kit.api.get("Task", params={"owner": LILLESTROM, "status": "requested"},
                             headers={"X-Acting-Organization": LILLESTROM})
    assert mine.json()["total"] == 1
    seen = await kit.api.get(referral, headers={"X-Acting-Organization": LILLESTROM})
    assert seen.status_code == 200


async def test_all_clinics_reject_then_the_task_fails_with_a_reason(kit: Kit) -> None:
    referral, task = await refer(kit, OSLO_PATIENT)
    owners = []
    while task["status"] == "requested":
        owners.append(task["owner"]["reference"])
        await reject(kit, task)
        chain = await chain_of(kit, referral)
        task = next(t for t in chain if t["status"] not in ("rejected",))
    # Norwegian clinics only: Odense (DK) is never offered a Norwegian patient
    assert owners == [OSLO, LILLESTROM, BERGEN]
    assert task["status"] == "failed" and "owner" not in task
    assert task["statusReason"]["coding"][0]["code"] == "no-clinic"
    assert "No clinic left" in task["statusReason"]["text"]
    assert f"Excluded {ODENSE}: in DK and the patient in NO." in task["note"][-1]["text"]
    chain = await chain_of(kit, referral)
    assert len(chain) == 4
    assert all(t.get("owner") != {"reference": ODENSE} for t in chain)
    last_rejected = next(t for t in chain if t.get("owner") == {"reference": BERGEN})
    assert last_rejected["businessStatus"]["coding"][0]["code"] == "escalated"


async def test_danish_patient_rejected_by_odense_is_not_sent_to_norway(kit: Kit) -> None:
    referral, task = await refer(kit, DK_PATIENT)
    assert task["owner"] == {"reference": ODENSE}
    for clinic in (OSLO, LILLESTROM, BERGEN):
        assert f"Excluded {clinic}: in NO and the patient in DK." in task["note"][0]["text"]
    await reject(kit, task)
    chain = await chain_of(kit, referral)
    [failed] = [t for t in chain if t["status"] == "failed"]
    assert failed["statusReason"]["coding"][0]["code"] == "no-clinic"
    assert "owner" not in failed and len(chain) == 2


async def test_patient_without_address_is_routed_by_national_identifier(kit: Kit) -> None:
    await load_demo(kit.store, kit.base)
    dk = (await kit.api.get(DK_PATIENT)).json()
    bare = {k: v for k, v in dk.items() if k not in ("id", "meta", "address")}
    made = await kit.post(bare)
    sr = await kit.post(kit.referral(f"Patient/{made['id']}", ROLE))
    [task] = await chain_of(kit, f"ServiceRequest/{sr['id']}")
    # no position: ranked by load only, but only among the Danish clinics
    assert task["owner"] == {"reference": ODENSE}
    assert "Patient position unknown" in task["note"][0]["text"]


async def test_empty_directory_fails_the_task_at_intake(kit: Kit) -> None:
    refs = await kit.gp_and_clinic()
    sr = await kit.post(kit.referral(refs["patient"], refs["role"]))
    [task] = await chain_of(kit, f"ServiceRequest/{sr['id']}")
    assert task["status"] == "failed"
    assert task["statusReason"]["coding"][0]["code"] == "no-clinic"


async def test_a_service_provided_on_another_server_is_no_candidate(kit: Kit) -> None:
    """A HealthcareService whose providedBy is another server's Organization (even with an
    id of ours) offers no clinic here: the Oslo patient goes to the next nearest."""
    await load_demo(kit.store, kit.base)
    services = (await kit.api.get("HealthcareService", params={"_count": "50"})).json()
    oslo = next(e["resource"] for e in services["entry"]
                if e["resource"]["providedBy"]["reference"] == OSLO)
    moved = {k: v for k, v in oslo.items() if k != "meta"} | {
        "providedBy": {"reference": f"http://other.example/fhir/{OSLO}"}}
    assert (await kit.api.put(f"HealthcareService/{oslo['id']}", json=moved)).status_code == 200
    _, task = await refer(kit, OSLO_PATIENT)
    assert task["owner"]["reference"] not in (OSLO, f"http://other.example/fhir/{OSLO}")
    assert task["owner"]["reference"].startswith("Organization/")
