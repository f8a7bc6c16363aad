"""The embedded demo: the directory loads once, the README's example referral is accepted
against it, and the demo inbox keeps each message id once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from service.app import create_app
from service.store.db import Store

from .conftest import BASE, api_settings

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles" / "examples"
CLINIC = "Organization/0b7c4e9e-5a3d-4f2b-8c1d-000000000003"

T = TypeVar("T")


async def _run(store: Store, calls: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    app = create_app(api_settings(store, load_demo=True))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE + "/") as client:
            return await calls(client)


async def test_demo_directory_takes_the_readme_referral(store: Store) -> None:
    body = (EXAMPLES / "ChiroAssessmentReferral-plain.json").read_bytes()

    async def walk(client: httpx.AsyncClient) -> tuple[int, list[dict[str, Any]]]:
        created = await client.post("ServiceRequest", content=body,
                                    headers={"Content-Type": "application/fhir+json"})
        rid = created.json()["id"]
        tasks = await client.get("Task", params={"focus": f"ServiceRequest/{rid}"})
        return created.status_code, [e["resource"] for e in tasks.json().get("entry", [])]

    status, tasks = await _run(store, walk)
    assert status == 201
    assert [t["owner"]["reference"] for t in tasks] == [CLINIC]
    assert tasks[0]["status"] == "requested"


async def test_demo_directory_loads_once(store: Store) -> None:
    async def count(client: httpx.AsyncClient) -> int:
        r = await client.get("Organization", params={"_summary": "count"})
        return int(r.json()["total"])

    first = await _run(store, count)
    second = await _run(store, count)
    assert first == second == 5  # one GP practice, four clinics


async def test_demo_inbox_keeps_each_message_once(store: Store) -> None:
    message = {"resourceType": "Bundle", "id": "m-1", "type": "message", "entry": []}
    org = "0b7c4e9e-5a3d-4f2b-8c1d-000000000005"

    async def send_twice(client: httpx.AsyncClient) -> dict[str, Any]:
        url = f"{BASE.removesuffix('/fhir')}/demo/inbox/Organization/{org}"
        for _ in range(2):
            assert (await client.post(url, content=json.dumps(message))).status_code == 200
        return (await client.get(url)).json()

    inbox = await _run(store, send_twice)
    assert inbox["total"] == 1
