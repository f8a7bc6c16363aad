"""The beat-driven sweeper: rows are the truth, the broker message only a nudge.

Every `sweep_interval_seconds` it claims due outbox rows (pending and due, or in flight
with an expired lease: a worker died) with `FOR UPDATE SKIP LOCKED` on PostgreSQL, and
enqueues `deliver_message(id)` for each while the claim holds, so two beats never nudge the
same batch twice at once. A lost or duplicated nudge is harmless: the lease decides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from celery import shared_task

from service.store import outbox
from service.store.db import Store

__all__ = ["SWEEP_TASK", "sweep", "sweep_outbox"]

log = logging.getLogger(__name__)

SWEEP_TASK = "chiroref.sweep_outbox"
BATCH = 500


async def sweep(store: Store, now: datetime, nudge: Callable[[str], object], limit: int) -> int:
    async with store.engine.begin() as conn:
        ids = await outbox.due(conn, now, limit)
        for outbox_id in ids:
            nudge(outbox_id)
    if ids:
        log.info("sweeper: nudged %d outbox rows", len(ids))
    return len(ids)


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep_outbox(limit: int = BATCH) -> int:
    from workers.delivery import deliver_message
    from workers.runtime import current

    runtime = current()
    now = runtime.deps.clock()
    return runtime.run(sweep(runtime.deps.store, now, deliver_message.delay, limit))
