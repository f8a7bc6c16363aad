"""RequestContextMiddleware: a request id (X-Request-Id, echoed or made) and timing;
AfterCommitMiddleware: the delivery nudges of a request, sent when it is done.

The log line carries method, path (ids only, never the query string, which may hold
patient identifiers), status and duration; no body, no headers.
"""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.workflow import after_commit

log = logging.getLogger("chiroref.api.requests")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SAFE_ID.match(candidate):
                return candidate
    return os.urandom(16).hex()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        scope.setdefault("state", {})["request_id"] = request_id
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed = (time.perf_counter() - started) * 1000
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                    (b"server-timing", f"app;dur={elapsed:.1f}".encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            log.debug(
                "%s %s %s %.1fms id=%s", scope["method"], scope["path"], status, elapsed, request_id
            )


class AfterCommitMiddleware:
    """Collects the message ids the workflow queued during a request and nudges the
    delivery worker once the response is done (service/workflow/after_commit.py). Pure ASGI,
    so the request runs in this task and sees the collector."""

    def __init__(self, app: ASGIApp, enqueue: after_commit.Enqueue | None) -> None:
        self.app, self.enqueue = app, enqueue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.enqueue is None:
            await self.app(scope, receive, send)
            return
        with after_commit.collecting() as ids:
            await self.app(scope, receive, send)
        await after_commit.flush(self.enqueue, ids)
