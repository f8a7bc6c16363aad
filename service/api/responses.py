"""FhirResponse: `application/fhir+json; charset=utf-8` via orjson, with the version headers
FHIR clients rely on (ETag, Last-Modified, Location; http.html#versioning)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from email.utils import format_datetime
from typing import Any

import orjson
from starlette.responses import Response

from profiles.issues import Issue, to_operation_outcome
from service.api.headers import Freshness, Prefer, etag
from service.api.subsetting import WHOLE, Subset, apply
from service.api.urls import Urls
from service.store.model import StoredResource

FHIR_MEDIA_TYPE = "application/fhir+json; charset=utf-8"


class FhirResponse(Response):
    media_type = FHIR_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return b"" if content is None else orjson.dumps(content)


def version_headers(stored: StoredResource) -> dict[str, str]:
    return {
        "ETag": etag(stored.version_id),
        "Last-Modified": format_datetime(stored.last_updated, usegmt=True),
    }


def resource_response(
    stored: StoredResource, status: int = 200, subset: Subset = WHOLE
) -> FhirResponse:
    content = apply(stored.content, subset)
    return FhirResponse(content, status_code=status, headers=version_headers(stored))


def read_response(stored: StoredResource, subset: Subset, fresh: Freshness) -> Response:
    """A read or vread: 304 Not Modified, with the version headers and no body, when the
    client holds this version (http.html#cread); else the resource."""
    if fresh.unchanged(stored.version_id, stored.last_updated):
        return Response(status_code=304, headers=version_headers(stored))
    return resource_response(stored, subset=subset)


def written_response(
    urls: Urls,
    stored: StoredResource,
    *,
    status: int,
    prefer: Prefer,
    issues: Iterable[Issue] = (),
) -> FhirResponse:
    """Create / update / conditional-create replies: Location + ETag, body per `Prefer`."""
    headers = version_headers(stored) | {"Location": urls.versioned(stored)}
    body = prefer_body(stored.content, prefer, issues)
    return FhirResponse(body, status_code=status, headers=headers)


def prefer_body(content: Mapping[str, Any], prefer: Prefer, issues: Iterable[Issue]) -> Any:
    if prefer.return_ == "minimal":
        return None
    if prefer.return_ == "OperationOutcome":
        return to_operation_outcome(issues)
    return content


def outcome_response(issues: Iterable[Issue], status: int = 200) -> FhirResponse:
    return FhirResponse(to_operation_outcome(issues), status_code=status)
