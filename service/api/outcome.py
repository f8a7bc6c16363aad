"""The one place that renders errors: every failure leaves as an OperationOutcome.

- `FhirError` (service/errors.py): its status and its issues.
- Starlette `HTTPException` (unknown route 404, 405 with `Allow`): an OperationOutcome.
- `RequestValidationError` (a malformed path or header parameter): 400.
- Anything else: a bare 500, logged with the request id and exception type only - never
  the message or the body, which may hold patient data.
"""

from __future__ import annotations

import http
import logging
import traceback

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from profiles.issues import Issue
from service.api.responses import FhirResponse, outcome_response
from service.errors import FhirError

log = logging.getLogger("chiroref.api")

_CODES = {
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-long",
    415: "not-supported",
}


async def on_fhir_error(request: Request, exc: Exception) -> FhirResponse:
    assert isinstance(exc, FhirError)
    return outcome_response(exc.issues, exc.status)


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
    return response


async def on_validation_error(request: Request, exc: Exception) -> FhirResponse:
    assert isinstance(exc, RequestValidationError)
    issues = [
        Issue("error", "value", None, f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}")
        for e in exc.errors()
    ]
    return outcome_response(issues, 400)


async def on_unexpected_error(request: Request, exc: Exception) -> FhirResponse:
    request_id = getattr(request.state, "request_id", "-")
    # Where, never what: no message, no source lines, no locals (they may hold patient data).
    frames = " <- ".join(
        f"{f.name} ({f.filename}:{f.lineno})"
        for f in reversed(traceback.extract_tb(exc.__traceback__))
    )
    log.error("unexpected %s (request %s) at %s", type(exc).__name__, request_id, frames)
    issue = Issue("fatal", "exception", None, f"internal error (request id {request_id})")
    return outcome_response([issue], 500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(FhirError, on_fhir_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected_error)
