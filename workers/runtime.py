"""One event loop, one Store and one httpx client per worker process.

Celery tasks are sync; the store is async. Each worker process (prefork child or the solo
worker) lazily builds a `Runtime` on first use: an `asyncio.Runner` whose loop lives as long
as the process, so the Store's pooled connections and the client's keep-alive connections
are reused across tasks. A forked child never reuses its parent's (the pid is checked, and
`worker_process_init` drops it).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
from celery import current_app

from service.settings import Settings
from service.store.db import Store
from workers.delivery import DeliveryConfig, DeliveryDeps

__all__ = ["Runtime", "close_current", "current", "forget_current"]

T = TypeVar("T")


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.pid = os.getpid()
        self._runner = asyncio.Runner()
        self.deps = self._runner.run(_open(settings))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def close(self) -> None:
        self.run(_close(self.deps))
        self._runner.close()


async def _open(settings: Settings) -> DeliveryDeps:
    store = await Store.open(settings.database_url)
    client = httpx.AsyncClient(
        timeout=settings.delivery_timeout_seconds,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        follow_redirects=False,  # a 3xx is a permanent refusal, never followed
    )
    return DeliveryDeps(store, client, DeliveryConfig.from_settings(settings))


async def _close(deps: DeliveryDeps) -> None:
    await deps.client.aclose()
    await deps.store.close()


_current: Runtime | None = None


def current() -> Runtime:
    global _current
    if _current is None or _current.pid != os.getpid():
        settings: Settings = current_app.conf["chiroref_settings"]
        _current = Runtime(settings)
    return _current


def forget_current(**_: Any) -> None:
    """worker_process_init: a forked child starts without its parent's loop and pools."""
    global _current
    _current = None


def close_current(**_: Any) -> None:
    """worker_process_shutdown / worker_shutdown."""
    global _current
    if _current is not None and _current.pid == os.getpid():
        _current.close()
    _current = None
