"""The round-trip budget of a plain referral create (DESIGN.md, Performance budget).

On PostgreSQL a referral that names its clinic is two statements on the raw asyncpg
connection and nothing else: the requester PractitionerRole's read and the one create
statement (referral, Task, history, index, organisation and claim rows), in autocommit,
without BEGIN/COMMIT exchanges. Routing (no clinic named) and conditional creates still run
in one transaction. SQLite keeps one transaction per create.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from service.store.db import Store

Kit = Any  # the `kit` fixture (tests/integration/api/conftest.py)
MINIMAL = {"Prefer": "return=minimal"}


@contextmanager
def sent_statements(store: Store) -> Iterator[list[str]]:
    """The first word of every statement asyncpg sends while the block runs, on every
    pooled connection the block checks out."""
    sent: list[str] = []

    def log(query: Any) -> None:
        sent.append(query.query.split()[0].upper().rstrip(";"))

    def on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_conn.driver_connection
        driver.add_query_logger(log)
        watched.append(driver)

    watched: list[Any] = []
    event.listen(store.engine.sync_engine, "checkout", on_checkout)
    try:
        yield sent
    finally:
        event.remove(store.engine.sync_engine, "checkout", on_checkout)
        for driver in watched:
            driver.remove_query_logger(log)


def app_store(api_app: FastAPI) -> Store:
    store: Store = api_app.state.store
    return store


async def test_referral_naming_its_clinic_is_two_statements(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    store = app_store(api_app)
    if store.dialect != "postgresql":
        pytest.skip("the round-trip budget is PostgreSQL's (SQLite: one local transaction)")
    refs = await kit.gp_and_clinic()
    await kit.post(kit.referral(refs["patient"], refs["role"], refs["clinic"], "warm-up"))
    with sent_statements(store) as sent:
        body = kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-budget")
        r = await api.post("ServiceRequest", json=body, headers=MINIMAL)
    assert r.status_code == 201, r.text
    assert sent == ["SELECT", "WITH"]  # the role's organisation, then everything else
    assert await kit.count("Task", {"owner": refs["clinic"]}) == 2


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


async def test_conditional_create_keeps_its_transaction(
    api: httpx.AsyncClient, api_app: FastAPI, kit: Kit
) -> None:
    store = app_store(api_app)
    if store.dialect != "postgresql":
        pytest.skip("statement logging through asyncpg")
    refs = await kit.gp_and_clinic()
    body = kit.referral(refs["patient"], refs["role"], refs["clinic"], "R-cond")
    with sent_statements(store) as sent:
        headers = {**MINIMAL, "If-None-Exist": "identifier=urn:oid:1.2.3|R-cond"}
        r = await api.post("ServiceRequest", json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert sent[0] == "BEGIN" and sent[-1] == "COMMIT"
