"""Request dependencies as named `Annotated` aliases (STYLE.md section 3).

`AppStore`, `Conf`, `Links`, `CallerDep` (SYSTEM, or the organisation named in
`X-Acting-Organization` until the security issue), `PreferDep`, `FhirBody` (size-limited,
JSON-only body), `PatchBody` (JSON Patch), `FormPairs` (`POST _search`), `negotiate` (406
for XML-only clients), and `Writing` (store, caller, settings, urls and Prefer in one, for
the create and Bundle routes). `If-Match` is parsed in rest.py (`IfMatchAny`: one ETag, a
list, or `*`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Depends, Request

from service.api.headers import (
    Freshness,
    Prefer,
    check_acceptable,
    check_request_type,
    media_type,
    parse_freshness,
    parse_prefer,
)
from service.api.json_patch import PATCH_MEDIA_TYPE
from service.api.subsetting import Subset, for_read
from service.api.urls import Urls
from service.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from service.settings import Settings
from service.store.db import Store
from service.store.model import SYSTEM, Caller


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# Every dependency is `async def`: FastAPI runs a plain `def` dependency in a worker thread
# (a thread hand-off per dependency per request, measured at ~15% of a create's CPU).
async def get_settings(request: Request) -> Settings:
    return settings_of(request)


async def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def get_urls(request: Request) -> Urls:
    urls: Urls = request.app.state.urls
    return urls


ACTING_ORG_HEADER = "x-acting-organization"


async def get_caller(request: Request) -> Caller:
    """SYSTEM, or the organisation the request says it acts for.

    `X-Acting-Organization: Organization/<id>` is a TRUSTED-NETWORK PLACEHOLDER: the SMART
    Backend Services issue replaces it with the organisation of the access token. Absent ->
    SYSTEM (sees and may do everything).
    """
    value = request.headers.get(ACTING_ORG_HEADER)
    if value is None or not value.strip():
        return SYSTEM
    kind, _, rid = value.strip().partition("/")
    if kind != "Organization" or not rid or "/" in rid:
        raise BadRequest.of(
            f"X-Acting-Organization must be Organization/<id>, got {value!r}", code="value"
        )
    ref = f"Organization/{rid}"
    return Caller(ref, frozenset({ref}))


async def get_prefer(request: Request) -> Prefer:
    return parse_prefer(request.headers.getlist("prefer"))


async def negotiate(request: Request) -> None:
    check_acceptable(request.headers.get("accept"), request.query_params.get("_format"))


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 past `max_body_bytes` by Content-Length or by count."""
    limit = settings_of(request).max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(*PayloadTooLarge.of(f"the body exceeds {limit} bytes").issues)


async def fhir_body(request: Request) -> dict[str, Any]:
    check_request_type(request.headers.get("content-type"))
    raw = await read_body(request)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest.of(f"the body is not valid JSON: {exc}", code="structure") from exc
    if not isinstance(data, dict):
        raise BadRequest.of("the body must be a JSON object (a FHIR resource)", code="structure")
    return data


async def patch_body(request: Request) -> Any:
    """A JSON Patch document (`application/json-patch+json`; FHIRPath Patch is not supported)."""
    kind = media_type(request.headers.get("content-type"))
    if kind != PATCH_MEDIA_TYPE:
        raise UnsupportedMediaType.of(
            f"PATCH takes {PATCH_MEDIA_TYPE} (JSON Patch), got {kind or 'no Content-Type'!r}"
        )
    try:
        return orjson.loads(await read_body(request))
    except orjson.JSONDecodeError as exc:
        raise BadRequest.of(f"the patch is not valid JSON: {exc}", code="structure") from exc


async def form_pairs(request: Request) -> list[tuple[str, str]]:
    """`POST [type]/_search`: form parameters join the URL's (search.html#search)."""
    kind = media_type(request.headers.get("content-type"))
    if kind and kind != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType.of("POST _search takes application/x-www-form-urlencoded")
    body = (await read_body(request)).decode("utf-8", "replace")
    return [*request.query_params.multi_items(), *parse_qsl(body, keep_blank_values=True)]


@dataclass(frozen=True, slots=True)
class WriteContext:
    """What a write route needs, resolved as ONE dependency: FastAPI's own cost per
    dependency (cache key, signature walk) is paid once, not five times, on the hot path."""

    store: Store
    caller: Caller
    settings: Settings
    urls: Urls
    prefer: Prefer


async def write_context(request: Request) -> WriteContext:
    state = request.app.state
    caller, prefer = await get_caller(request), await get_prefer(request)
    return WriteContext(state.store, caller, state.settings, state.urls, prefer)


def resource_id(rid: str) -> str:
    """Ids here are server-assigned UUIDs; anything else cannot exist (404, not a 500)."""
    try:
        return str(uuid.UUID(rid))
    except ValueError:
        raise NotFound.of(f"no resource with id {rid!r}") from None


async def read_subset(request: Request) -> Subset:
    """`_summary=true|text|data|false` and `_elements` on read and vread, read as search
    reads them; see `subsetting.for_read` (strict: `Prefer: handling=strict`)."""
    strict = (await get_prefer(request)).handling == "strict"
    rtype = request.path_params.get("resource_type", "")
    return for_read(rtype, request.query_params.multi_items(), strict=strict)


async def read_freshness(request: Request) -> Freshness:
    """`If-None-Match` / `If-Modified-Since` of a read or vread (http.html#cread)."""
    return parse_freshness(request.headers.get("if-none-match"),
                           request.headers.get("if-modified-since"))


Conf = Annotated[Settings, Depends(get_settings)]
AppStore = Annotated[Store, Depends(get_store)]
Links = Annotated[Urls, Depends(get_urls)]
CallerDep = Annotated[Caller, Depends(get_caller)]
PreferDep = Annotated[Prefer, Depends(get_prefer)]
FhirBody = Annotated[dict[str, Any], Depends(fhir_body)]
PatchBody = Annotated[Any, Depends(patch_body)]
FormPairs = Annotated[list[tuple[str, str]], Depends(form_pairs)]
Writing = Annotated[WriteContext, Depends(write_context)]
ReadSubset = Annotated[Subset, Depends(read_subset)]
ReadFreshness = Annotated[Freshness, Depends(read_freshness)]
