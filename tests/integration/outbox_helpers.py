"""Helpers shared by the outbox and delivery integration tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from service.store import outbox
from service.store.db import Store

T0 = datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
OUTBOX_TABLES = "outbox_attempts, outbox, delivery_endpoints"


async def empty_outbox(store: Store) -> None:
    if store.dialect == "postgresql":
        async with store.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {OUTBOX_TABLES}"))


async def add_message(
    store: Store,
    *,
    referral: str = "sr-1",
    task: str | None = "task-1",
    url: str = "https://gp.test/fhir/$process-message",
    endpoint: str = "Endpoint/gp",
    at: datetime = T0,
    id: str | None = None,
) -> str:
    message_id = id or str(uuid.uuid4())
    body = {"resourceType": "Bundle", "id": message_id, "type": "message"}
    async with store.engine.begin() as conn:
        return await outbox.add(
            conn, id=message_id, kind="feedback", referral_id=referral, task_id=task,
            endpoint_ref=endpoint, endpoint_url=url, body=body, now=at,
        )
