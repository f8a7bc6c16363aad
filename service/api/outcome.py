"""The one place that renders errors: every failure leaves as an OperationOutcome.

- `FhirError` (service/errors.py): its status and its issues.
- Starlette `HTTPException` (unknown route 404, 405): an OperationOutcome. A 405's `Allow`
  is computed from the app's routes for that path (RFC 9110 15.5.6), not Starlette's
  (which names only the first route whose pattern matched).
- `RequestValidationError` (a malformed path or header parameter): 400.
- Anything else: a bare 500, logged once with the request id, exception type and frame
  locations only - never the message or the body, which may hold patient data
  (`CatchAllMiddleware` renders it and keeps the exception from the server's error log).
"""

from __future__ import annotations

import http
import logging
import traceback
from collections.abc import Iterable, Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from profiles.issues import Issue
from service.api.responses import FhirResponse, outcome_response
from service.api.urls import mount_path
from service.errors import FhirError
from service.store.search_params import RESOURCE_TYPES
from service.workflow.deletion import NEVER_DELETED
from service.workflow.tasks import SERVICE_CREATED

log = logging.getLogger("chiroref.api")

_CODES = {
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-long",
    415: "not-supported",
}


async def on_fhir_error(request: Request, exc: Exception) -> FhirResponse:
    """A 405 raised by an interaction carries `Allow`: the path's methods, without the
    write refused for this resource (DELETE of a Task, PUT of an unknown id); a transaction
    failing with an entry's 405 keeps `POST` (the Bundle's method is allowed)."""
    assert isinstance(exc, FhirError)
    response = outcome_response(exc.issues, exc.status)
    if exc.status == 405:
        refused = request.method if request.method in ("PUT", "PATCH", "DELETE") else None
        allowed = [m for m in allowed_methods(request) if m != refused]
        response.headers["Allow"] = ", ".join(allowed)
    return response


async def on_http_error(request: Request, exc: Exception) -> FhirResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else http.HTTPStatus(status).phrase
    if status == 404:
        detail = f"no FHIR interaction at {request.method} {request.url.path}"
    elif status == 405:
        detail = f"{request.method} is not supported on {request.url.path}"
    issue = Issue("error", _CODES.get(status, "processing"), None, detail)
    response = outcome_response([issue], status)
    response.headers.update(exc.headers or {})
    if status == 405:
        response.headers["Allow"] = ", ".join(allowed_methods(request))
    return response


async def on_validation_error(request: Request, exc: Exception) -> FhirResponse:
    assert isinstance(exc, RequestValidationError)
    issues = [
        Issue("error", "value", None, f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}")
        for e in exc.errors()
    ]
    return outcome_response(issues, 400)


def log_unexpected(exc: BaseException, request_id: str) -> None:
    """The one log record of an unexpected exception: its type, the request id and where
    it was raised - never what: no message, no source lines, no locals, no chained
    exceptions (a driver error's message holds the SQL and its parameters, which may be
    patient data)."""
    frames = " <- ".join(
        f"{f.name} ({f.filename}:{f.lineno})"
        for f in reversed(traceback.extract_tb(exc.__traceback__))
    )
    log.error("unexpected %s (request %s) at %s", type(exc).__name__, request_id, frames)


def unexpected_response(request_id: str) -> FhirResponse:
    issue = Issue("fatal", "exception", None, f"internal error (request id {request_id})")
    return outcome_response([issue], 500)


async def on_unexpected_error(request: Request, exc: Exception) -> FhirResponse:
    """Starlette's last resort (ServerErrorMiddleware, which re-raises to the server
    afterwards); `CatchAllMiddleware` normally renders the 500 before it gets there."""
    request_id = getattr(request.state, "request_id", "-")
    log_unexpected(exc, request_id)
    return unexpected_response(request_id)


class CatchAllMiddleware:
    """Renders an exception no handler took as the 500 OperationOutcome, logged once by
    `log_unexpected`, and does NOT re-raise: Starlette's ServerErrorMiddleware would
    re-raise it to uvicorn, whose error logger prints the whole traceback with the
    exception's message (for a database error, `[SQL: ...] [parameters: ...]`, i.e. the
    resource). Installed inside RequestContextMiddleware (the request id, the X-Request-Id
    header and the request log line stay) and outside everything else. When the response
    had already started, the exception is logged the same way and the response is left
    unfinished (the server closes the connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            request_id = str(scope.get("state", {}).get("request_id", "-"))
            log_unexpected(exc, request_id)
            if not started:
                await unexpected_response(request_id)(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(FhirError, on_fhir_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected_error)


METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. A `{resource_type}` segment counts
    only when it names a stored type, so `/metadata` is GET and HEAD, not also the POST
    of `/{resource_type}`."""
    path = request.scope["path"]
    local = path.removeprefix(mount_path(request.app.state.settings.base_url)) or "/"
    found: set[str] = set()
    for route in _routes(request.app.routes):
        match = route.path_regex.match(path) or route.path_regex.match(local)
        if match and match.groupdict().get("rid") == "_history" and route.path.endswith("{rid}"):
            continue  # `/{type}/_history` is a history, not a resource with that id
        kind = match.groupdict().get("resource_type", RESOURCE_TYPES[0]) if match else None
        if kind in RESOURCE_TYPES:
            found |= (route.methods or set()) - _always_refused(kind, route.path)
    return [m for m in METHOD_ORDER if m in found]


def _always_refused(kind: str, route_path: str) -> set[str]:
    """Methods a route serves that this type always refuses: the create of a type the
    service alone creates (`POST /Task`), the delete of a type never deleted (Task)."""
    refused = set()
    if kind in SERVICE_CREATED and route_path.endswith("/{resource_type}"):
        refused.add("POST")
    if kind in NEVER_DELETED:
        refused.add("DELETE")
    return refused


def _routes(routes: Iterable[BaseRoute]) -> Iterator[Route]:
    """The app's routes, also inside included routers (FastAPI >= 0.165 keeps those as
    `original_router`, without their prefix; older ones flatten them, prefixed)."""
    for route in routes:
        if isinstance(route, Route):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
