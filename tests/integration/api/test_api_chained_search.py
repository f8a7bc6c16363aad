"""Chained search parameters (search.html#chaining), one level, on both engines: what they
find, the target type modifier, paging links, what they refuse, and that a target the caller
may not see matches nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.api.conftest import FNR

Kit = Any  # the `kit` fixture (tests/integration/api/conftest.py)
OTHER_FNR = "15076500565"  # another fødselsnummer with valid check digits (synthetic)


def ids(bundle: dict[str, Any]) -> set[str]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in bundle.get("entry", []) if e["search"]["mode"] == "match"}


async def two_referrals(kit: Kit) -> dict[str, str]:
    """Two referrals from the same GP to the same clinic, for two patients."""
    refs = await kit.gp_and_clinic()
    other = await kit.post(kit.patient(OTHER_FNR, family="Hansen"))
    refs["other_patient"] = f"Patient/{other['id']}"
    first = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    second = await kit.post(kit.referral(refs["other_patient"], refs["role"], refs["clinic"]))
    refs["first"], refs["second"] = (f"ServiceRequest/{first['id']}",
                                     f"ServiceRequest/{second['id']}")
    return refs


async def test_a_chain_finds_through_the_reference(api: httpx.AsyncClient, kit: Kit) -> None:
    refs = await two_referrals(kit)
    for name in ("subject.identifier", "subject:Patient.identifier", "patient.identifier"):
        page = (await api.get("ServiceRequest", params={
            name: f"urn:oid:2.16.578.1.12.4.1.4.1|{OTHER_FNR}",
            "requester": refs["role"]})).json()
        assert ids(page) == {refs["second"]}, name
    by_name = (await api.get("ServiceRequest", params={"subject.name": "nordm",
                                                       "requester": refs["role"]})).json()
    assert ids(by_name) == {refs["first"]}  # string rules of the target: starts-with, any case
    both = (await api.get("ServiceRequest", params={"subject.name": "nordmann,hansen",
                                                    "requester": refs["role"]})).json()
    assert ids(both) == {refs["first"], refs["second"]}  # values ORed
    # through two different references at once, ANDed
    tasks = (await api.get("Task", params={"focus.subject": refs["other_patient"],
                                           "owner": refs["clinic"]})).json()
    assert len(ids(tasks)) == 1
    none = (await api.get("ServiceRequest", params={"subject:Patient.identifier": "x|nobody",
                                                    "requester": refs["role"]})).json()
    assert none["total"] == 0
    assert FNR != OTHER_FNR


async def test_the_type_modifier_narrows_the_target(api: httpx.AsyncClient, kit: Kit) -> None:
    refs = await two_referrals(kit)
    clinic_id = refs["clinic"].split("/")[1]
    found = (await api.get("ServiceRequest", params={"performer:Organization._id": clinic_id,
                                                     "requester": refs["role"]})).json()
    assert ids(found) == {refs["first"], refs["second"]}
    wrong = (await api.get("ServiceRequest", params={"performer:Practitioner._id": clinic_id,
                                                     "requester": refs["role"]})).json()
    assert wrong["total"] == 0


async def test_paging_links_keep_the_chain(api: httpx.AsyncClient, kit: Kit) -> None:
    refs = await two_referrals(kit)
    page = (await api.get("ServiceRequest", params={
        "subject:Patient.name": "nordmann,hansen", "requester": refs["role"],
        "_count": "1"})).json()
    assert page["total"] == 2 and len(ids(page)) == 1
    after = next(link["url"] for link in page["link"] if link["relation"] == "next")
    assert httpx.URL(after).params["subject:Patient.name"] == "nordmann,hansen"
    rest = (await api.get(after)).json()
    assert ids(rest) and ids(rest) != ids(page)


async def test_what_is_not_a_chain_is_reported_or_refused(api: httpx.AsyncClient,
                                                          kit: Kit) -> None:
    refs = await two_referrals(kit)
    for odd in ("status.code", "subject.nope", "subject.organization.nope",
                "subject:Nonsense.name", "subject:Task.name"):
        page = (await api.get("ServiceRequest", params={odd: "x",
                                                        "requester": refs["role"]})).json()
        assert page["total"] == 2, odd  # ignored, not applied
        assert page["entry"][-1]["search"]["mode"] == "outcome", odd
        strict = await api.get("ServiceRequest", params={odd: "x"},
                               headers={"Prefer": "handling=strict"})
        kit.outcome(strict, 400)
    bad = await api.get("ServiceRequest", params={"subject.birthdate": "not-a-date"})
    issues = kit.outcome(bad, 400)
    assert kit.expressions(issues) == {"Patient.birthDate"}
    # the fault is the chained parameter's, under a type the reference may point at
    # (ServiceRequest has `identifier` too, but a subject is never a ServiceRequest)
    odd_modifier = await api.get("ServiceRequest", params={"subject.identifier:bogus": "x"})
    where = kit.expressions(kit.outcome(odd_modifier, 400))
    assert where and all(e.split(".")[0] in {"Location", "Patient"} for e in where), where
    # a target type the element does not list still filters: nothing matches
    for never in ("subject:Practitioner.name", "patient:Organization.name"):
        listed_not = (await api.get("ServiceRequest", params={
            never: "x", "requester": refs["role"]})).json()
        assert listed_not["total"] == 0, never  # filtered to nothing, not ignored
        assert "entry" not in listed_not, never


async def test_a_chain_goes_on_through_further_references(api: httpx.AsyncClient,
                                                          kit: Kit) -> None:
    """`focus:ServiceRequest.subject.identifier` (two hops), `:Type` at each hop or not, and
    `focus:ServiceRequest.requester.organization.name` (three, MAX_CHAIN); a fourth hop is
    reported; hops so wide that their target searches multiply past MAX_CHAIN_BREADTH are
    400 `too-costly` (name the types)."""
    refs = await two_referrals(kit)
    system = "urn:oid:2.16.578.1.12.4.1.4.1"
    tasks = (await api.get("Task", params={"focus": f"{refs['first']},{refs['second']}",
                                           "_count": "10"})).json()
    task_of = {e["resource"]["focus"]["reference"]: f"Task/{e['resource']['id']}"
               for e in tasks["entry"]}
    for name in ("focus:ServiceRequest.subject.identifier",
                 "focus:ServiceRequest.subject:Patient.identifier",
                 "focus:ServiceRequest.patient.identifier"):
        page = (await api.get("Task", params={name: f"{system}|{OTHER_FNR}"})).json()
        assert ids(page) == {task_of[refs["second"]]}, name
    practice = refs["practice"]
    for params in ({"focus:ServiceRequest.requester:PractitionerRole.organization": practice},
                   {"focus:ServiceRequest.requester.organization.name": "legekontor"}):
        page = (await api.get("Task", params={**params, "owner": refs["clinic"]})).json()
        assert ids(page) == set(task_of.values()), params
    nobody = (await api.get("Task", params={
        "focus:ServiceRequest.requester.organization.name": "nobody"}))
    assert nobody.json()["total"] == 0
    named = "focus:ServiceRequest.subject:Patient.identifier"
    page = (await api.get("Task", params={named: f"{system}|{FNR}", "owner": refs["clinic"],
                                          "_count": "1"})).json()
    self_link = next(link["url"] for link in page["link"] if link["relation"] == "self")
    assert httpx.URL(self_link).params[named] == f"{system}|{FNR}"
    for wide in ("focus.subject.identifier", "focus.requester.organization.name"):
        issues = kit.outcome(await api.get("Task", params={wide: "x"}), 400)
        assert issues[0]["code"] == "too-costly" and ":Type" in issues[0]["diagnostics"]
    def repeated(times: int) -> httpx.QueryParams:
        return httpx.QueryParams([("focus:ServiceRequest.subject.identifier", f"{system}|{n}")
                                  for n in range(times)])

    issues = kit.outcome(await api.get("Task", params=repeated(5)), 400)  # 5 x 13 searches
    assert issues[0]["code"] == "too-costly"
    fewer = (await api.get("Task", params=repeated(4))).json()
    assert fewer["total"] == 0
    four = "focus:ServiceRequest.requester.organization.partof.name"
    kit.outcome(await api.get("Task", params={four: "x"},
                              headers={"Prefer": "handling=strict"}), 400)
    for odd in ("focus.subject.nope", "focus.status.code", "focus.subject:Patient.status"):
        kit.outcome(await api.get("Task", params={odd: "x"},
                                  headers={"Prefer": "handling=strict"}), 400)
    bad = await api.get("Task", params={"focus:ServiceRequest.subject.birthdate": "not-a-date"})
    assert kit.expressions(kit.outcome(bad, 400)) == {"Patient.birthDate"}
    # the clinic sees the referrals and Tasks, not the GP's PractitionerRole: a chain
    # through it finds nothing
    clinic = {"X-Acting-Organization": refs["clinic"]}
    hidden = (await api.get("Task", params={
        "focus:ServiceRequest.requester.organization": practice}, headers=clinic)).json()
    assert hidden["total"] == 0
    seen = (await api.get("Task", params={named: f"{system}|{FNR}"}, headers=clinic)).json()
    assert seen["total"] == 0  # nor the patient, whose record the GP's system keeps
    mine = (await api.get("Task", params={"focus.performer": refs["clinic"]},
                          headers=clinic)).json()
    assert ids(mine) == set(task_of.values())  # through what it sees, a chain finds


async def test_a_target_the_caller_may_not_see_matches_nothing(api: httpx.AsyncClient,
                                                               kit: Kit) -> None:
    refs = await two_referrals(kit)
    clinic = {"X-Acting-Organization": refs["clinic"]}
    role_id = refs["role"].split("/")[1]
    # the clinic sees the referrals, not the GP's PractitionerRole: a chain through it finds none
    mine = (await api.get("ServiceRequest", params={"performer": refs["clinic"]},
                          headers=clinic)).json()
    assert ids(mine) == {refs["first"], refs["second"]}
    hidden = (await api.get("ServiceRequest", params={"requester:PractitionerRole._id": role_id},
                            headers=clinic)).json()
    assert hidden["total"] == 0
    system = (await api.get("ServiceRequest", params={
        "requester:PractitionerRole._id": role_id})).json()
    assert ids(system) >= {refs["first"], refs["second"]}


async def test_a_conditional_create_refuses_a_chain(api: httpx.AsyncClient, kit: Kit) -> None:
    """A claim held by the created resource cannot follow changes to the chain's target."""
    refs = await kit.gp_and_clinic()
    doctor = (await api.get(refs["role"])).json()["practitioner"]["reference"]
    hpr = (await api.get(doctor)).json()["identifier"][0]
    criteria = f"practitioner.identifier={hpr['system']}|{hpr['value']}"
    before = await kit.count("PractitionerRole")
    refused = await api.post("PractitionerRole", json=kit.practitioner_role(
        doctor, refs["practice"]), headers={"If-None-Exist": criteria})
    issues = kit.outcome(refused, 400)
    assert issues[0]["code"] == "not-supported"
    assert await kit.count("PractitionerRole") == before  # nothing stored
    # as a search it works: the role found through its practitioner's identifier
    found = (await api.get("PractitionerRole", params={"practitioner.identifier":
                                                       f"{hpr['system']}|{hpr['value']}"})).json()
    assert ids(found) == {refs["role"]}


async def test_has_finds_what_matching_resources_refer_to(api: httpx.AsyncClient,
                                                          kit: Kit) -> None:
    """`_has:Task:focus:status=requested` (search.html#has): the referrals a requested Task
    is about; `Patient?_has:ServiceRequest:subject:...`: the patients referred."""
    refs = await two_referrals(kit)
    mine = {"requester": refs["role"]}
    open_ones = (await api.get("ServiceRequest", params={
        "_has:Task:focus:status": "requested", **mine})).json()
    assert ids(open_ones) == {refs["first"], refs["second"]}
    done = (await api.get("ServiceRequest", params={
        "_has:Task:focus:status": "completed,cancelled", **mine})).json()
    assert done["total"] == 0
    other = refs["other_patient"]
    referred = (await api.get("Patient", params={
        "_has:ServiceRequest:subject:requester": refs["role"],
        "_id": f"{refs['patient'].split('/')[1]},{other.split('/')[1]}"})).json()
    assert ids(referred) == {refs["patient"], other}
    negated = (await api.get("ServiceRequest", params={
        "_has:Task:focus:status:not": "requested", **mine})).json()
    assert negated["total"] == 0
    page = (await api.get("ServiceRequest", params={
        "_has:Task:focus:status": "requested", "_count": "1", **mine})).json()
    following = next(link["url"] for link in page["link"] if link["relation"] == "next")
    assert httpx.URL(following).params["_has:Task:focus:status"] == "requested"
    # a caller who sees the target but not the resource referring to it finds nothing:
    # the parent organisation does not see its department (an Organization is its own)
    parent = await kit.post(kit.organization("Sykehuset"))
    child = kit.organization("Avdeling")
    child["partOf"] = {"reference": f"Organization/{parent['id']}"}
    await kit.post(child)
    through = {"_has:Organization:partof:name": "avdeling", "_id": parent["id"]}
    as_system = (await api.get("Organization", params=through)).json()
    assert ids(as_system) == {f"Organization/{parent['id']}"}
    as_parent = await api.get("Organization", params=through, headers={
        "X-Acting-Organization": f"Organization/{parent['id']}"})
    assert (await api.get(f"Organization/{parent['id']}", headers={
        "X-Acting-Organization": f"Organization/{parent['id']}"})).status_code == 200
    assert as_parent.json()["total"] == 0


async def test_what_is_not_a_reverse_chain_is_reported_or_refused(api: httpx.AsyncClient,
                                                                  kit: Kit) -> None:
    refs = await two_referrals(kit)
    for odd in ("_has:Task:nope:status", "_has:Task:status:status", "_has:Nonsense:focus:status",
                "_has:Task:focus", "_has:Task:focus:_has:Provenance:target:agent",
                "_has:Task:focus:nope"):
        page = (await api.get("ServiceRequest", params={odd: "x",
                                                        "requester": refs["role"]})).json()
        assert page["total"] == 2, odd
        assert page["entry"][-1]["search"]["mode"] == "outcome", odd
        kit.outcome(await api.get("ServiceRequest", params={odd: "x"},
                                   headers={"Prefer": "handling=strict"}), 400)
    bad = await api.get("ServiceRequest", params={"_has:Task:focus:modified": "not-a-date"})
    assert kit.expressions(kit.outcome(bad, 400)) == {"Task.lastModified"}
    kit.outcome(await api.post("ServiceRequest", json=kit.referral(
        refs["patient"], refs["role"], refs["clinic"]),
        headers={"If-None-Exist": "_has:Task:focus:status=requested"}), 400)
