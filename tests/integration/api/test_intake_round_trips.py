"""The round-trip budget of a plain referral create (DESIGN.md, Performance budget).

On PostgreSQL a referral that names its clinic is one statement on a connection of the
plain asyncpg pool (no SQLAlchemy checkout) and nothing else: the create statement
(referral, Task, history, index, organisation and claim rows), in autocommit, without
BEGIN/COMMIT exchanges. The requester PractitionerRole is read once and then comes from the
store's read cache; the create statement checks that the cached version is still current
and writes nothing if not, and the create is built again from a fresh read. Routing (no
clinic named) and conditional creates still run in one transaction. SQLite keeps one
transaction per create.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from service.store.db import Store
from service.store.model import SYSTEM
from tests.integration.api.conftest import organization

Kit = Any  # the `kit` fixture (tests/integration/api/conftest.py)
MINIMAL = {"Prefer": "return=minimal"}


@asynccontextmanager
async def sent_statements(store: Store) -> AsyncIterator[list[str]]:
    """The first word of every statement asyncpg sends while the block runs, on every
    connection the block checks out: from the engine's pool and from the connections of
    `Store.one_shot` (which keep a logger, muted afterwards). asyncpg calls query loggers
    with `call_soon`, so the loop turns once before the list is closed."""
    sent: list[str] = []
    active = [True]

    def log(query: Any) -> None:
        if active[0]:
            sent.append(query.query.split()[0].upper().rstrip(";"))

    def on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_conn.driver_connection
        driver.add_query_logger(log)
        watched.append(driver)

    def on_direct(driver: Any) -> None:
        driver.add_query_logger(log)

    watched: list[Any] = []
    event.listen(store.engine.sync_engine, "checkout", on_checkout)
    store.direct_listeners.append(on_direct)
    try:
        yield sent
        await asyncio.sleep(0)
    finally:
        active[0] = False
        store.direct_listeners.remove(on_direct)
        event.remove(store.engine.sync_engine, "checkout", on_checkout)
        for driver in watched:
            driver.remove_query_logger(log)


def app_store(api_app: FastAPI) -> Store:
    store: Store = api_app.state.store
    return store


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # its budget
async def test_referral_naming_its_clinic_is_one_statement_once_the_role_is_known(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    store = app_store(api_app)
    assert store.dialect == "postgresql"
    refs = await kit.gp_and_clinic()
    async with sent_statements(store) as sent:
        first = kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-first")
        r = await api.post("ServiceRequest", json=first, headers=MINIMAL)
    assert r.status_code == 201, r.text
    assert sent == ["SELECT", "WITH"]  # the role's organisation, then everything else
    async with sent_statements(store) as sent:
        body = kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-budget")
        r = await api.post("ServiceRequest", json=body, headers=MINIMAL)
    assert r.status_code == 201, r.text
    assert sent == ["WITH"]  # the role from the read cache, checked by the statement
    assert await kit.count("Task", {"owner": refs["clinic"]}) == 2


async def referral_orgs(store: Store, referral_id: str) -> set[str]:
    async with store.begin(SYSTEM) as repo:
        return set(await repo.current_orgs("ServiceRequest", referral_id))


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # the cache is PG's
async def test_a_role_changed_since_it_was_cached_is_read_again(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    """The GP's PractitionerRole moves to another practice after a create cached it: the
    next create's statement finds the cached version out of date and writes nothing, and
    the create is built again from the new role (its organisation, its sender claim)."""
    store = app_store(api_app)
    refs = await kit.gp_and_clinic()
    first = await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-1"))
    assert refs["practice"] in await referral_orgs(store, first["id"])
    moved = await kit.post(organization("Nytt legekontor"))
    role = (await api.get(refs["role"])).json()
    role["organization"] = {"reference": f"Organization/{moved['id']}"}
    assert (await api.put(refs["role"], json=role)).status_code == 200
    async with sent_statements(store) as sent:
        body = kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-1")
        r = await api.post("ServiceRequest", json=body, headers=MINIMAL)
    assert r.status_code == 201, r.text  # another sender now: the identifier is free again
    assert sent == ["WITH", "SELECT", "WITH"]  # refused as stale, fresh read, written
    second = r.headers["location"].split("/")[-3]
    orgs = await referral_orgs(store, second)
    assert f"Organization/{moved['id']}" in orgs and refs["practice"] not in orgs
    assert await kit.count("ServiceRequest") == 2 and await kit.count("Task") == 2


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # the cache is PG's
async def test_a_role_deleted_since_it_was_cached_gives_no_organisation(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    store = app_store(api_app)
    refs = await kit.gp_and_clinic()
    await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-a"))
    assert (await api.delete(refs["role"])).status_code in (200, 204)
    body = kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-b")
    r = await api.post("ServiceRequest", json=body, headers=MINIMAL)
    assert r.status_code == 201, r.text
    orgs = await referral_orgs(store, r.headers["location"].split("/")[-3])
    assert refs["practice"] not in orgs and refs["clinic"] in orgs


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # its budget
async def test_one_shot_checks_out_no_engine_connection(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    """The hot path takes its connection from the plain asyncpg pool, not the engine's."""
    store = app_store(api_app)
    assert store.dialect == "postgresql"
    refs = await kit.gp_and_clinic()
    checkouts: list[Any] = []

    def on_checkout(*_args: Any) -> None:
        checkouts.append(_args)

    event.listen(store.engine.sync_engine, "checkout", on_checkout)
    try:
        body = kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-no-engine")
        r = await api.post("ServiceRequest", json=body, headers=MINIMAL)
    finally:
        event.remove(store.engine.sync_engine, "checkout", on_checkout)
    assert r.status_code == 201, r.text
    assert checkouts == []


async def test_duplicate_referral_in_one_shot_mode_still_answers_with_the_first(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    """The identifier claim of the one-statement path: a replay is 200 with the first
    referral and nothing else is written (the statement is atomic by itself)."""
    refs = await kit.gp_and_clinic()
    body = kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-twice")
    first = await api.post("ServiceRequest", json=body, headers=MINIMAL)
    again = await api.post("ServiceRequest", json=body, headers=MINIMAL)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.headers["location"] == again.headers["location"]
    assert await kit.count("Task") == 1 and await kit.count("ServiceRequest") == 1


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # its budget
async def test_conditional_create_keeps_its_transaction(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    store = app_store(api_app)
    assert store.dialect == "postgresql"
    refs = await kit.gp_and_clinic()
    body = kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-cond")
    async with sent_statements(store) as sent:
        system = body["identifier"][0]["system"]
        headers = {**MINIMAL, "If-None-Exist": f"identifier={system}|R-cond"}
        r = await api.post("ServiceRequest", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"


def referral_bundle(kit: Kit, refs: dict[str, str], identifier: str) -> dict[str, Any]:
    """A transaction: a new Patient and the referral about it (urn:uuid reference)."""
    patient_url = "urn:uuid:0b6b3f1e-8a2c-4d0e-9f00-000000000001"
    referral = kit.referral(patient_url, refs["role"], refs["clinic"], identifier)
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": patient_url, "resource": kit.patient(),
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": referral, "request": {"method": "POST", "url": "ServiceRequest"}},
    ]}


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # its budget
async def test_a_transaction_of_creates_is_one_statement(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    store = app_store(api_app)
    refs = await kit.gp_and_clinic()
    await api.post("ServiceRequest", json=kit.referral(refs["patient"], refs["role"],
                                                        refs["clinic"], "R-warm"))
    async with sent_statements(store) as sent:
        r = await api.post("", json=referral_bundle(kit, refs, "R-tx"))
    assert r.status_code == 200, r.text
    assert sent == ["WITH"]  # Patient, referral and Task in one atomic statement
    entries = r.json()["entry"]
    assert [e["response"]["status"] for e in entries] == ["201 Created", "201 Created"]
    patient = entries[0]["response"]["location"].split("/_history")[0]
    found = (await api.get("Task", params={"patient": patient})).json()
    assert found["total"] == 1
    assert found["entry"][0]["resource"]["owner"]["reference"] == refs["clinic"]
    # the same identifier again, about another new patient: the statement is refused by
    # the claim, the holder is read in a transaction, and the answer is 409 with nothing new
    patients = await kit.count("Patient")
    async with sent_statements(store) as sent:
        again = await api.post("", json=referral_bundle(kit, refs, "R-tx"))
    kit.outcome(again, 409)
    assert sent[0] == "WITH" and "BEGIN" in sent
    assert await kit.count("ServiceRequest") == 2 and await kit.count("Task") == 2
    assert await kit.count("Patient") == patients


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # the cache is PG's
async def test_a_transaction_with_a_stale_cached_role_is_built_again(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    """As a plain create: the one statement of a transaction of creates refuses to write
    on a cached role that has moved, and the transaction is planned again from a fresh
    read (the new organisation), all entries still created once."""
    store = app_store(api_app)
    refs = await kit.gp_and_clinic()
    await api.post("", json=referral_bundle(kit, refs, "R-txs-warm"))  # caches the role
    moved = await kit.post(organization("Nytt legekontor"))
    role = (await api.get(refs["role"])).json()
    role["organization"] = {"reference": f"Organization/{moved['id']}"}
    assert (await api.put(refs["role"], json=role)).status_code == 200
    patients = await kit.count("Patient")
    async with sent_statements(store) as sent:
        r = await api.post("", json=referral_bundle(kit, refs, "R-txs"))
    assert r.status_code == 200, r.text
    assert sent == ["WITH", "SELECT", "WITH"]  # refused as stale, fresh read, written
    referral = next(e for e in r.json()["entry"]
                    if e["response"]["location"].startswith("ServiceRequest/"))
    orgs = await referral_orgs(store, referral["response"]["location"].split("/")[1])
    assert f"Organization/{moved['id']}" in orgs and refs["practice"] not in orgs
    assert await kit.count("Patient") == patients + 1


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_a_transaction_with_a_condition_keeps_its_transaction(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    store = app_store(api_app)
    refs = await kit.gp_and_clinic()
    bundle = referral_bundle(kit, refs, "R-txc")
    bundle["entry"][0]["request"]["ifNoneExist"] = "name=Nordmann"  # gp_and_clinic's
    async with sent_statements(store) as sent:
        r = await api.post("", json=bundle)
    assert r.status_code == 200, r.text
    assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"


async def test_create_route_refuses_in_the_order_the_dependencies_did(
    api: httpx.AsyncClient, kit: Kit
) -> None:
    """`POST [type]` parses the request itself (no FastAPI dependencies): 406 before the
    type's 404, the type before the body (415, 400), the body before the caller (400), and
    every refusal is an OperationOutcome with nothing stored."""
    xml_only = {"Accept": "application/fhir+xml"}
    kit.outcome(await api.post("Nonsense", content=b"<x/>", headers=xml_only), 406)
    kit.outcome(await api.post("Patient", json=kit.patient(), params={"_format": "xml"}), 406)
    kit.outcome(await api.post("Nonsense", content=b"<x/>"), 404)
    xml_body = {"Content-Type": "application/fhir+xml"}
    kit.outcome(await api.post("Patient", content=b"<Patient/>", headers=xml_body), 415)
    json_body = {"Content-Type": "application/fhir+json"}
    kit.outcome(await api.post("Patient", content=b"{not json", headers=json_body), 400)
    kit.outcome(await api.post("Patient", content=b"[1]", headers=json_body), 400)
    bad_caller = {"X-Acting-Organization": "Practitioner/1"}
    issues = kit.outcome(
        await api.post("Patient", content=b"{", headers=json_body | bad_caller), 400
    )
    assert "not valid JSON" in issues[0]["diagnostics"]
    issues = kit.outcome(await api.post("Patient", json=kit.patient(), headers=bad_caller), 400)
    assert "X-Acting-Organization" in issues[0]["diagnostics"]
    issues = kit.outcome(await api.post("Patient", json={"resourceType": "Basic"}), 400)
    assert "does not match the URL" in issues[0]["diagnostics"]
    assert await kit.count("Patient") == 0
