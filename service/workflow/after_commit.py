"""After-commit nudges: the seam between a committed outbox row and the Celery worker.

Rows are the truth (service/store/outbox.py); a nudge only makes delivery start now instead
of at the next sweep, so a lost nudge costs latency, never a message. The service may not
import workers/ (import-linter layers), so the enqueue function is a plugin named by a
setting: `CHIROREF_ENQUEUE_HOOK=package.module:factory`, resolved with importlib when the app
is created; `factory(settings)` returns `enqueue(message_id) -> None` (blocking is fine: it
runs in a thread). `celery_send_task` below is one such factory: it sends the worker's task
by name (`chiroref.deliver_message`) without importing the worker. Unset: no nudge; the beat
sweeper sends the row within `CHIROREF_SWEEP_INTERVAL_SECONDS`.

During a request, the workflow calls `enqueue_after_commit(message_id)` inside its
transaction; the API's `AfterCommitMiddleware` collects the ids for the request and flushes
them when the response is done. A rolled-back transaction may leave an id collected: its
nudge finds no row and the worker skips it (workers re-read and check the world).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from service.settings import Settings

__all__ = [
    "DELIVER_TASK",
    "Enqueue",
    "celery_send_task",
    "collecting",
    "enqueue_after_commit",
    "flush",
    "load_enqueue",
]

log = logging.getLogger(__name__)

DELIVER_TASK: Final = "chiroref.deliver_message"  # workers/delivery.py registers this name
Enqueue = Callable[[str], None]

_pending: ContextVar[list[str] | None] = ContextVar("chiroref_after_commit", default=None)


def enqueue_after_commit(message_id: str) -> None:
    """Remember a message to nudge once the request's transaction is committed."""
    pending = _pending.get()
    if pending is not None:
        pending.append(message_id)


@contextmanager
def collecting() -> Iterator[list[str]]:
    ids: list[str] = []
    token = _pending.set(ids)
    try:
        yield ids
    finally:
        _pending.reset(token)


async def flush(enqueue: Enqueue | None, ids: list[str]) -> None:
    """Nudge each id (in a thread); a failure is logged, never raised."""
    for message_id in dict.fromkeys(ids) if enqueue else ():
        try:
            await asyncio.to_thread(enqueue, message_id)  # type: ignore[arg-type]
        except Exception as exc:
            log.warning("nudge for message %s failed (%s)", message_id, type(exc).__name__)


def load_enqueue(settings: Settings) -> Enqueue | None:
    """The enqueue function named by `settings.enqueue_hook`, or None."""
    if not settings.enqueue_hook:
        return None
    module, _, name = settings.enqueue_hook.partition(":")
    factory = getattr(importlib.import_module(module), name)
    enqueue: Enqueue = factory(settings)
    return enqueue


def celery_send_task(settings: Settings) -> Enqueue:
    """`CHIROREF_ENQUEUE_HOOK=service.workflow.after_commit:celery_send_task`."""
    from celery import Celery

    app = Celery("chiroref-gateway", broker=settings.broker_url, set_as_current=False)

    def send(message_id: str) -> None:
        app.send_task(DELIVER_TASK, args=[message_id], queue=settings.celery_queue)

    return send
