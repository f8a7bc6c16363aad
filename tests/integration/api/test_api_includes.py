"""`_include` and `_revinclude` on both engines: what they add, what they refuse, and that a
caller gets only what it may read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from service.api import includes

Kit = Any  # the `kit` fixture (tests/integration/api/conftest.py)


async def referral_and_task(kit: Kit) -> dict[str, str]:
    refs = await kit.gp_and_clinic()
    referral = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"]))
    refs["referral"] = f"ServiceRequest/{referral['id']}"
    page = (await kit.api.get("Task", params={"focus": refs["referral"]})).json()
    refs["task"] = f"Task/{page['entry'][0]['resource']['id']}"
    return refs


def by_mode(bundle: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for e in bundle.get("entry", []):
        r = e["resource"]
        out.setdefault(e["search"]["mode"], set()).add(f"{r['resourceType']}/{r.get('id', '')}")
    return out


async def test_include_adds_the_targets_once(api: httpx.AsyncClient, kit: Kit) -> None:
    refs = await referral_and_task(kit)
    page = (await api.get("Task", params=[("owner", refs["clinic"]),
                                          ("_include", "Task:focus"),
                                          ("_include", "Task:patient:Patient")])).json()
    assert page["total"] == 1  # includes are not counted
    assert by_mode(page) == {"match": {refs["task"]},
                             "include": {refs["referral"], refs["patient"]}}
    assert all("_include=Task:focus" in link["url"] for link in page["link"])
    assert page["entry"][1]["fullUrl"].endswith(refs["referral"])
    # a target type that the reference is not: nothing added
    other = (await api.get("Task", params={"owner": refs["clinic"],
                                           "_include": "Task:focus:Patient"})).json()
    assert by_mode(other) == {"match": {refs["task"]}}


async def test_revinclude_adds_what_refers_to_the_matches(api: httpx.AsyncClient,
                                                          kit: Kit) -> None:
    refs = await referral_and_task(kit)
    rid = refs["referral"].split("/")[1]
    page = (await api.get("ServiceRequest", params={"_id": rid,
                                                    "_revinclude": "Task:focus"})).json()
    assert by_mode(page) == {"match": {refs["referral"]}, "include": {refs["task"]}}
    typed = (await api.get("ServiceRequest", params={
        "_id": rid, "_revinclude": "Task:focus:ServiceRequest", "_elements": "status",
        "_count": "1"}, headers={"Prefer": "handling=strict"})).json()
    assert by_mode(typed) == {"match": {refs["referral"]}, "include": {refs["task"]}}
    task = next(e["resource"] for e in typed["entry"] if e["search"]["mode"] == "include")
    assert "focus" in task and "tag" not in task["meta"]  # _elements is the match's
    count = (await api.get("ServiceRequest", params={"_id": rid, "_summary": "count",
                                                     "_revinclude": "Task:focus"})).json()
    assert count["total"] == 1 and "entry" not in count


async def test_past_the_cap_the_rest_is_left_out_with_a_warning(
        api: httpx.AsyncClient, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    refs = await referral_and_task(kit)
    both: list[tuple[str, str | int | float | bool | None]] = [
        ("owner", refs["clinic"]), ("_include", "Task:focus"), ("_include", "Task:patient:Patient")]
    monkeypatch.setattr(includes, "MAX_INCLUDED", 2)  # exactly the two targets: all there
    assert "outcome" not in by_mode((await api.get("Task", params=both)).json())
    monkeypatch.setattr(includes, "MAX_INCLUDED", 1)
    page = (await api.get("Task", params=both)).json()
    assert by_mode(page)["include"] == {refs["referral"]}  # the first include's target
    warning = page["entry"][-1]
    assert warning["search"]["mode"] == "outcome"
    assert [i["code"] for i in warning["resource"]["issue"]] == ["too-costly"]
    assert warning["resource"]["issue"][0]["severity"] == "warning"
    # `_revinclude` finds more than it may add: nothing added, and said so
    monkeypatch.setattr(includes, "MAX_INCLUDED", 0)
    rid = refs["referral"].split("/")[1]
    rev = (await api.get("ServiceRequest", params={"_id": rid,
                                                   "_revinclude": "Task:focus"})).json()
    assert [e["search"]["mode"] for e in rev["entry"]] == ["match", "outcome"]
    assert rev["entry"][-1]["resource"]["issue"][0]["code"] == "too-costly"


async def organisation(kit: Kit, name: str, part_of: str | None = None) -> str:
    body = kit.organization(name)
    if part_of:
        body["partOf"] = {"reference": part_of}
    return f"Organization/{(await kit.post(body))['id']}"


def modes(bundle: dict[str, Any]) -> list[str]:
    return [e["search"]["mode"] for e in bundle["entry"]]


async def test_what_is_already_there_takes_no_room_under_the_cap(
        api: httpx.AsyncClient, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """Matches that refer to each other: the cap counts only what is added."""
    top = await organisation(kit, "A")
    second, third = await organisation(kit, "B", top), await organisation(kit, "C", top)
    other_top = await organisation(kit, "D")
    other = await organisation(kit, "E", other_top)
    monkeypatch.setattr(includes, "MAX_INCLUDED", 1)

    def ids(*refs: str) -> str:
        return ",".join(ref.split("/")[1] for ref in refs)

    # B is a match and part of A; only C is to add: it fits, nothing is left out
    rev = (await api.get("Organization", params={
        "_id": ids(top, second), "_revinclude": "Organization:partof"})).json()
    assert by_mode(rev) == {"match": {top, second}, "include": {third}}
    # A is a match; D is the one target to add
    fwd = (await api.get("Organization", params={
        "_id": ids(top, second, other), "_include": "Organization:partof"})).json()
    assert by_mode(fwd) == {"match": {top, second, other}, "include": {other_top}}
    # two targets to add, room for one: one added, and said so
    both = (await api.get("Organization", params=[
        ("_id", ids(second, other)), ("_include", "Organization:partof")])).json()
    assert by_mode(both)["include"] <= {top, other_top} and len(by_mode(both)["include"]) == 1
    assert modes(both)[-1] == "outcome"


async def test_a_caller_gets_only_what_it_may_read(api: httpx.AsyncClient, kit: Kit) -> None:
    refs = await referral_and_task(kit)
    clinic = {"X-Acting-Organization": refs["clinic"]}
    page = (await api.get("Task", params=[("_include", "Task:focus"),
                                          ("_include", "Task:requester")],
                          headers=clinic)).json()
    role_read = await api.get(refs["role"], headers=clinic)
    expected = {refs["referral"]} | ({refs["role"]} if role_read.status_code == 200 else set())
    assert by_mode(page)["include"] == expected
    assert role_read.status_code == 404  # the GP's role is not the clinic's to see


async def test_unsupported_includes_are_reported_or_refused(api: httpx.AsyncClient,
                                                            kit: Kit) -> None:
    refs = await referral_and_task(kit)
    for odd in ({"_include": "Task:status"}, {"_include": "ServiceRequest:subject"},
                {"_include:iterate": "Task:focus"}, {"_include": "*"},
                {"_revinclude": "Task:nope"}):
        page = (await api.get("Task", params={"owner": refs["clinic"], **odd})).json()
        assert page["entry"][-1]["search"]["mode"] == "outcome", odd
        strict = await api.get("Task", params={"owner": refs["clinic"], **odd},
                               headers={"Prefer": "handling=strict"})
        kit.outcome(strict, 400)
    kit.outcome(await api.post("Patient", json=kit.patient(), headers={
        "If-None-Exist": "identifier=urn:x|1&_include=Patient:organization"}), 400)


async def test_bundle_search_entries_include_too(api: httpx.AsyncClient, kit: Kit) -> None:
    refs = await referral_and_task(kit)
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {
        "method": "GET", "url": f"Task?owner={refs['clinic']}&_include=Task:focus"}}]}
    inner = (await api.post("", json=bundle)).json()["entry"][0]["resource"]
    assert by_mode(inner) == {"match": {refs["task"]}, "include": {refs["referral"]}}


async def test_capability_statement_lists_includes(api: httpx.AsyncClient) -> None:
    statement = (await api.get("metadata")).json()
    task = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Task")
    assert "Task:focus" in task["searchInclude"] and "Task:status" not in task["searchInclude"]
    referral = next(r for r in statement["rest"][0]["resource"]
                    if r["type"] == "ServiceRequest")
    assert "Task:focus" in referral["searchRevInclude"]
