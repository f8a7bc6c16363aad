"""Load the demo directory (GP practice, clinics, their Locations, HealthcareServices and
Endpoints, two patients) into an empty store, with the fixed ids the examples use.

Endpoint addresses point at the gateway's own demo inbox (`/demo/inbox/...`), so a
newcomer sees feedback delivered without running a GP system.
"""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import orjson

from service.errors import Gone, NotFound
from service.store.db import Store
from service.store.model import SYSTEM, NewResource
from service.workflow import ownership

MARKER = ("Organization", "0b7c4e9e-5a3d-4f2b-8c1d-000000000003")


def demo_inbox_url(base_url: str) -> str:
    """`http://host:port/fhir` -> `http://host:port/demo/inbox`."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/demo/inbox"


def directory(base_url: str) -> list[dict[str, Any]]:
    text = resources.files(__package__).joinpath("directory.json").read_text("utf-8")
    text = text.replace("{demo_inbox}", demo_inbox_url(base_url))
    return [e["resource"] for e in orjson.loads(text)["entry"]]


async def load_demo(store: Store, base_url: str) -> int:
    """Create the directory unless it is there already; returns how many were created."""
    items = directory(base_url)
    known = {f"{r['resourceType']}/{r['id']}": r for r in items}
    async with store.begin(SYSTEM) as repo:
        try:
            await repo.read(*MARKER)
            return 0
        except (NotFound, Gone):
            pass
        news = []
        for content in items:
            roles = await ownership.resolve_roles(repo, content, known)
            news.append(NewResource(content, orgs=ownership.orgs_of(content, roles)))
        await repo.create_many(news)
    return len(items)
