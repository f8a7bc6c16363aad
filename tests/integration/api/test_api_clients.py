"""Public FHIR clients against a real uvicorn server: fhirpy (async) and fhirclient (sync)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fhirclient import client as fhirclient
from fhirclient.models.patient import Patient as FcPatient
from fhirpy import AsyncFHIRClient

from service.app import create_app
from service.settings import Settings
from service.store.db import Store

Kit = Any  # the `kit` fixture (tests/integration/api/conftest.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server_url(store: Store) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    url = store.engine.url.render_as_string(hide_password=False)
    app = create_app(Settings(database_url=url, auto_migrate=False, base_url=base, load_demo=False))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started, "uvicorn did not start"
    yield base
    server.should_exit = True
    thread.join(10)


async def test_fhirpy_create_search_read(server_url: str, kit: Kit) -> None:
    client = AsyncFHIRClient(server_url)
    patient = client.resource(
        "Patient", **{k: v for k, v in kit.patient().items() if k != "resourceType"}
    )
    await patient.save()
    assert patient.id and patient["meta"]["versionId"] == "1"
    found = await client.resources("Patient").search(name="Nordmann").fetch_all()
    assert [p.id for p in found] == [patient.id]
    read = await client.reference("Patient", patient.id).to_resource()
    assert read["identifier"] == kit.patient()["identifier"]
    subset = await client.resources("Patient").elements("identifier").fetch()  # _elements
    assert [set(p) for p in subset] == [{"resourceType", "id", "meta", "identifier"}]


async def test_fhirclient_reads_metadata_and_a_resource(server_url: str, kit: Kit) -> None:
    created = await asyncio.to_thread(_create_with_httpx, server_url, kit.patient())
    smart = fhirclient.FHIRClient(settings={"app_id": "chiroref-test", "api_base": server_url})
    statement = await asyncio.to_thread(lambda: smart.server.capabilityStatement)
    assert statement.fhirVersion == "4.0.1"
    patient = await asyncio.to_thread(FcPatient.read, created["id"], smart.server)
    assert patient.name[0].family == "Nordmann"


def _create_with_httpx(base: str, resource: dict[str, Any]) -> dict[str, Any]:
    import httpx

    r = httpx.post(f"{base}/Patient", json=resource)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/fhir+json; charset=utf-8"
    body: dict[str, Any] = r.json()
    assert body["resourceType"] == "Patient" and body["meta"]["versionId"] == "1"
    assert body["name"] == resource["name"] and body["identifier"] == resource["identifier"]
    assert r.headers["location"] == f"{base}/Patient/{body['id']}/_history/1"
    assert r.headers["etag"] == 'W/"1"'
    return body


async def test_fhirpy_conditional_update_creates_then_updates(server_url: str, kit: Kit) -> None:
    """fhirpy's `SearchSet.update` is `PUT [type]?[criteria]` (http.html#cond-update)."""
    client = AsyncFHIRClient(server_url)
    system, value = kit.patient()["identifier"][0].values()
    by_fnr = client.resources("Patient").search(identifier=f"{system}|{value}")
    fields = {k: v for k, v in kit.patient().items() if k != "resourceType"}
    first, created = await by_fnr.update(client.resource("Patient", **fields))
    assert created and first["meta"]["versionId"] == "1"
    fields["name"] = [{"family": "Hansen"}]
    second, created = await by_fnr.update(client.resource("Patient", **fields))
    assert not created and second.id == first.id and second["meta"]["versionId"] == "2"
    assert [p["name"][0]["family"] for p in await by_fnr.fetch_all()] == ["Hansen"]
