"""The FHIR RESTful interactions (http.html): thin routes over `interactions`.

Each route parses the request (dependencies), makes one call, and shapes the reply.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from profiles.validate import validate_resource
from service.api import interactions, transaction, versions
from service.api.deps import (
    AppStore,
    CallerDep,
    Conf,
    FhirBody,
    FormPairs,
    Links,
    PatchBody,
    PreferDep,
    ReadFreshness,
    ReadSubset,
    WriteContext,
    Writing,
    fhir_body,
    negotiate,
    resource_id,
    write_context,
)
from service.api.headers import (
    Prefer,
    VersionMatch,
    check_if_none_exist,
    parse_version_match,
)
from service.api.outcome import allowed_methods
from service.api.references import literal_references
from service.api.responses import (
    FhirResponse,
    outcome_response,
    read_response,
    version_headers,
    written_response,
)
from service.api.searchset import ParsedSearch, history, parse_search, searchset
from service.api.urls import Urls
from service.errors import MethodNotAllowed, NotFound
from service.settings import Settings
from service.store.db import Store
from service.store.model import Caller, StoredResource
from service.store.search_params import SEARCH_PARAMS
from service.workflow import tasks


async def known_type(resource_type: str) -> str:
    interactions.check_type(resource_type)
    return resource_type


async def known_id(request: Request, rid: str) -> str:
    """The id of `/{type}/{id}...` (a UUID, else 404); `/{type}/_history` itself reached by
    another method than GET or HEAD (its own route) is 405."""
    if rid == "_history" and request.url.path.endswith(
            f"/{request.path_params.get('resource_type')}/_history"):
        raise MethodNotAllowed.of(f"{request.method} is not supported on a history (GET or HEAD)")
    return resource_id(rid)


async def if_match(request: Request) -> VersionMatch | None:
    """`If-Match`: one version ETag, a list of them, or `*` (RFC 9110 13.1.1)."""
    return parse_version_match(request.headers.get("if-match"))


async def conditional_type(request: Request, resource_type: str) -> str:
    """The type of a conditional PUT, PATCH or DELETE (`/{type}?criteria`), checked before
    the body: `/metadata` and `/_history` take GET and HEAD only (405), an unknown type is
    404. The create route (POST) asks it too."""
    if resource_type in ("metadata", "_history"):
        raise MethodNotAllowed.of(
            f"{request.method} is not supported on /{resource_type} (GET or HEAD)")
    interactions.check_type(resource_type)
    return resource_type


Type = Annotated[str, Depends(known_type)]
ConditionalType = Annotated[str, Depends(conditional_type)]
Id = Annotated[str, Depends(known_id)]
IfMatchAny = Annotated[VersionMatch | None, Depends(if_match)]
GET_HEAD = ["GET", "HEAD"]  # HEAD answers the GET's status and headers (RFC 9110 9.3.2)

router = APIRouter(dependencies=[Depends(negotiate)], default_response_class=FhirResponse)


async def create(request: Request) -> Response:
    """`POST [type]`, the intake hot path: a plain Starlette route (`mount_create` below), so
    FastAPI solves no dependencies for it (~0.3 ms of CPU per request). It calls the same
    functions as the dependencies, in their order: negotiate (406), the type (404), the
    body (415/413/400), then caller and Prefer."""
    await negotiate(request)
    resource_type = await conditional_type(request, request.path_params["resource_type"])
    if resource_type in tasks.SERVICE_CREATED:
        return service_created(request, resource_type)
    body = await fhir_body(request)
    writing = await write_context(request)
    interactions.check_body(resource_type, body)
    store, caller, base_url = writing.store, writing.caller, writing.settings.base_url
    condition = check_if_none_exist(request.headers.get("if-none-exist"))
    content = literal_references(body, base_url)
    done = await interactions.create(store, caller, content, condition, base_url)
    return _written(writing, done, 201 if done.created else 200)


def service_created(request: Request, resource_type: str) -> Response:
    """405 for `POST /Task`, every caller (`tasks.check_client_create`); `Allow` is the
    path's methods without POST (the type takes no create)."""
    refused = tasks.client_create_refused(resource_type)
    response = outcome_response(refused.issues, refused.status)
    allowed = allowed_methods(request)  # without POST (and DELETE): the type refuses both
    response.headers["Allow"] = ", ".join(allowed)
    return response


def mount_create(app: Starlette, prefix: str) -> None:
    """`create` as the app's first route, outside the included routers: the busiest route
    matches without FastAPI's include layers or the other routes being tried (no other
    route serves POST on one segment under the prefix, so no answer changes)."""
    app.router.routes.insert(0, Route(f"{prefix}/{{resource_type}}", create, methods=["POST"]))


@router.api_route("/metadata", methods=GET_HEAD)
async def metadata(request: Request) -> FhirResponse:
    return FhirResponse(request.app.state.capability_statement)


async def process_bundle(body: FhirBody, writing: Writing) -> FhirResponse:
    """`POST [base]`: a transaction or batch Bundle (http.html#transaction)."""
    ctx = transaction.Context(writing.store, writing.caller, writing.settings)
    return FhirResponse(await transaction.process(ctx, body, writing.prefer))


@router.api_route("/_history", methods=GET_HEAD)
async def system_history(
    request: Request, store: AppStore, caller: CallerDep, conf: Conf, links: Links
) -> FhirResponse:
    """`GET [base]/_history`: every version the caller may read, newest first."""
    return await _history(request, store, caller, conf, links)


@router.api_route("/{resource_type}/_history", methods=GET_HEAD)
async def type_history(
    resource_type: Type, request: Request, store: AppStore, caller: CallerDep, conf: Conf,
    links: Links,
) -> FhirResponse:
    """`GET [type]/_history`: every version of the type's resources the caller may read."""
    return await _history(request, store, caller, conf, links, resource_type)


async def _history(request: Request, store: Store, caller: Caller, conf: Settings,
                   links: Urls, resource_type: str | None = None,
                   rid: str | None = None) -> FhirResponse:
    """A history Bundle, newest first; `_since` and `_at` filter the versions and stay in
    the paging links (`versions.history_in`)."""
    pairs = request.query_params.multi_items()
    count, offset = versions.paging(pairs, conf)
    wanted = versions.parse_history_filter(pairs)
    page = await versions.history(store, caller, resource_type, rid, (count, offset), wanted)
    return FhirResponse(history(links, versions.history_path(resource_type, rid), page, count,
                                offset, datetime.now(UTC), list(wanted.pairs)))


@router.post("/{resource_type}/$validate")
async def validate(resource_type: Type, body: FhirBody, request: Request) -> FhirResponse:
    """Always 200 with the OperationOutcome (errors included); nothing is stored."""
    given = request.query_params.getlist("profile")
    content, profiles = interactions.validation_input(resource_type, body, given)
    return outcome_response(validate_resource(content, profiles))


@router.api_route("/{resource_type}", methods=GET_HEAD)
async def search(
    resource_type: Type,
    request: Request,
    store: AppStore,
    caller: CallerDep,
    conf: Conf,
    links: Links,
    prefer: PreferDep,
) -> FhirResponse:
    parsed = _parse(resource_type, request.query_params.multi_items(), conf, prefer)
    page = await interactions.search(store, caller, parsed)
    return FhirResponse(searchset(links, resource_type, parsed, page, datetime.now(UTC)))


@router.post("/{resource_type}/_search")
async def search_by_post(
    resource_type: Type,
    pairs: FormPairs,
    store: AppStore,
    caller: CallerDep,
    conf: Conf,
    links: Links,
    prefer: PreferDep,
) -> FhirResponse:
    parsed = _parse(resource_type, pairs, conf, prefer)
    page = await interactions.search(store, caller, parsed)
    return FhirResponse(searchset(links, resource_type, parsed, page, datetime.now(UTC)))


@router.api_route("/{resource_type}/{rid}", methods=GET_HEAD)
async def read(
    resource_type: Type, rid: Id, store: AppStore, caller: CallerDep, subset: ReadSubset,
    fresh: ReadFreshness,
) -> Response:
    stored = await interactions.read(store, caller, resource_type, rid)
    return read_response(stored, subset, fresh)


@router.put("/{resource_type}")
async def conditional_update(
    resource_type: ConditionalType, request: Request, body: FhirBody, writing: Writing,
    if_match: IfMatchAny,
) -> FhirResponse:
    """`PUT [type]?[criteria]`: 200 when one resource matched and was updated, 201 when
    none did and the resource was created (`interactions.conditional_update`)."""
    interactions.check_body(resource_type, body)
    base_url = writing.settings.base_url
    done = await interactions.conditional_update(
        writing.store, writing.caller, resource_type, request.url.query,
        literal_references(body, base_url), if_match, base_url,
    )
    return _written(writing, done, 201 if done.created else 200)


@router.put("/{resource_type}/{rid}")
async def update(
    resource_type: Type, rid: Id, body: FhirBody, writing: Writing, if_match: IfMatchAny,
) -> FhirResponse:
    """200; 201 when the update re-created a deleted resource (a new current version)."""
    interactions.check_body(resource_type, body)
    content = literal_references(body, writing.settings.base_url)
    done = await interactions.update(
        writing.store, writing.caller, (resource_type, rid), content, if_match)
    return _written(writing, done, 201 if done.created else 200)


@router.patch("/{resource_type}")
async def conditional_patch(
    resource_type: ConditionalType, request: Request, operations: PatchBody, writing: Writing,
    if_match: IfMatchAny,
) -> FhirResponse:
    """`PATCH [type]?[criteria]`: the one match patched (`interactions.conditional_patch`)."""
    done = await interactions.conditional_patch(
        writing.store, writing.caller, resource_type, request.url.query, operations, if_match,
        writing.settings.base_url,
    )
    return _written(writing, done, 200)


@router.patch("/{resource_type}/{rid}")
async def patch(
    resource_type: Type, rid: Id, operations: PatchBody, writing: Writing, if_match: IfMatchAny,
) -> FhirResponse:
    """JSON Patch (http.html#patch); a Task change follows its status machine."""
    done = await interactions.patch(writing.store, writing.caller, (resource_type, rid),
                                    operations, if_match, writing.settings.base_url)
    return _written(writing, done, 200)


def _written(writing: WriteContext, done: interactions.Written, status: int) -> FhirResponse:
    return written_response(writing.urls, done.stored, status=status, prefer=writing.prefer,
                            issues=done.issues)


@router.delete("/{resource_type}")
async def conditional_delete(
    resource_type: ConditionalType, request: Request, writing: Writing, if_match: IfMatchAny,
) -> Response:
    """`DELETE [type]?[criteria]`: 204 with the deleted version's ETag."""
    gone = await interactions.conditional_delete(
        writing.store, writing.caller, resource_type, request.url.query, if_match,
        writing.settings.base_url,
    )
    return _deleted(gone)


@router.delete("/{resource_type}/{rid}")
async def delete(
    resource_type: Type, rid: Id, writing: Writing, if_match: IfMatchAny
) -> Response:
    """204 whether it was live or already deleted (http.html#delete: idempotent)."""
    return _deleted(await interactions.delete(writing.store, writing.caller, resource_type,
                                              rid, if_match))


def _deleted(gone: StoredResource | None) -> Response:
    return Response(status_code=204, headers=version_headers(gone) if gone else None)


@router.api_route("/{resource_type}/{rid}/_history", methods=GET_HEAD)
async def instance_history(
    resource_type: Type,
    rid: Id,
    request: Request,
    store: AppStore,
    caller: CallerDep,
    conf: Conf,
    links: Links,
) -> FhirResponse:
    """One resource's history (`_history` above)."""
    return await _history(request, store, caller, conf, links, resource_type, rid)


@router.api_route("/{resource_type}/{rid}/_history/{vid}", methods=GET_HEAD)
async def vread(
    resource_type: Type, rid: Id, vid: str, store: AppStore, caller: CallerDep,
    subset: ReadSubset, fresh: ReadFreshness,
) -> Response:
    if not vid.isdigit():
        raise NotFound.of(f"no version {vid!r} of {resource_type}/{rid}")
    stored = await interactions.vread(store, caller, (resource_type, rid), int(vid))
    return read_response(stored, subset, fresh)


def _parse(
    resource_type: str, pairs: list[tuple[str, str]], conf: Settings, prefer: Prefer
) -> ParsedSearch:
    return parse_search(
        resource_type,
        pairs,
        SEARCH_PARAMS.get(resource_type, {}),
        default_count=conf.default_page_size,
        max_count=conf.max_page_size,
        handling=prefer.handling,
        base_url=conf.base_url,
    )


