"""The rows a write stores are exactly the pure functions' values, on both engines.

PostgreSQL receives them as one JSON document unpacked in SQL (pg_writes.rows_document), so
strings must survive JSON escaping and instants the text round trip, to the microsecond."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from service.store.db import Store
from service.store.indexing import IndexValue
from service.store.model import SYSTEM, NewResource
from service.store.search_params import index_values
from service.store.tables import resource_orgs, resources, search_index

New = Callable[..., NewResource]

TRICKY = 'quote " backslash \\ tab \t newline \n æøå Ærø ß 🦴 </script> \u2028'


def tricky_patient() -> dict[str, Any]:
    return {
        "identifier": [{"system": "urn:x:" + TRICKY, "value": TRICKY}],
        "name": [{"family": "Ødegård-" + TRICKY, "given": ["Åse", "Zoë"]}],
        "birthDate": "0001-01-01",
        "address": [{"postalCode": "0150", "city": "Oslo", "country": "NO"}],
        "active": True,
    }


async def stored_index(store: Store, rtype: str, rid: str) -> list[IndexValue]:
    query = select(
        search_index.c.param, search_index.c.system, search_index.c.value,
        search_index.c.norm, search_index.c.low, search_index.c.high,
    ).where(search_index.c.resource_type == rtype, search_index.c.resource_id == rid)
    async with store.begin(SYSTEM) as repo:
        rows = (await repo.connection.execute(query)).all()
    return sorted(IndexValue(*row) for row in rows)


def expected_index(content: dict[str, Any]) -> list[IndexValue]:
    return sorted(index_values(content))


async def test_created_index_rows_are_the_extracted_values(store: Store, store_new: New) -> None:
    patient = store_new("Patient", orgs={"Organization/" + TRICKY}, **tricky_patient())
    period = {"start": "2026-03-01T10:15:30.123456+02:00", "end": "9999-12-31"}
    task = store_new("Task", status="requested", lastModified="2026-11-25T23:59:59.999Z",
                     executionPeriod=period, owner={"reference": "Organization/x"},
                     focus={"reference": f"Patient/{patient.id}"})
    async with store.one_shot(SYSTEM) as repo:  # the single-statement path on PostgreSQL
        stored = await repo.create_many([patient, task])
    for made in stored:
        assert await stored_index(store, made.resource_type, made.id) == expected_index(
            made.content
        )
    assert any(v.norm and "ødegard-quote" in v.norm for v in expected_index(stored[0].content))
    async with store.begin(SYSTEM) as repo:
        orgs = (await repo.connection.execute(
            select(resource_orgs.c.org_ref).where(resource_orgs.c.resource_id == patient.id)
        )).scalars().all()
        content = (await repo.connection.execute(
            select(resources.c.content).where(resources.c.id == patient.id)
        )).scalar_one()
    assert orgs == ["Organization/" + TRICKY]
    assert content["name"][0]["family"] == "Ødegård-" + TRICKY
    assert content["identifier"][0]["value"] == TRICKY


async def test_updated_index_rows_replace_the_old_ones(store: Store, store_new: New) -> None:
    patient = store_new("Patient", **tricky_patient())
    async with store.begin(SYSTEM) as repo:
        await repo.create_many([patient])
    changed = {**patient.content, "name": [{"family": "Ny " + TRICKY}], "birthDate": "2020-02"}
    async with store.begin(SYSTEM) as repo:
        updated = await repo.update("Patient", patient.id, changed, frozenset())
    assert await stored_index(store, "Patient", patient.id) == expected_index(updated.content)
