"""The FHIR interactions over the store (http.html), one function each.

Routes parse the request and shape the reply; these do the work: validate, open ONE
store transaction, call the repository, and turn store outcomes into FHIR ones. Nothing is
written when any step fails (the transaction rolls back on the exception).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from profiles.issues import Issue, errors
from profiles.validate import validate_resource
from service.api import versions
from service.api.headers import VersionMatch, check_criteria, split_criteria
from service.api.includes import included
from service.api.json_patch import apply_patch, without_empties
from service.api.references import literal_references, rewrite_references
from service.api.searchset import ParsedSearch, parse_search, query_pairs
from service.api.subsetting import subsetted_issues
from service.errors import (
    BadRequest,
    Conflict,
    FhirError,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from service.ids import new_id
from service.store.db import Store
from service.store.errors import ClaimTaken, StaleRead
from service.store.model import (
    Caller,
    NewResource,
    SearchPage,
    SearchParam,
    StoredResource,
    Updated,
)
from service.store.repository import Repository
from service.store.search_params import RESOURCE_TYPES, SEARCH_PARAMS
from service.workflow import deletion, feedback, referrals, tasks
from service.workflow.intake import one_statement, prepare_create, update_orgs


@dataclass(frozen=True, slots=True)
class Written:
    stored: StoredResource
    created: bool  # 201 (new) or 200 (updated, or found by a conditional create)
    issues: tuple[Issue, ...] = ()  # warnings and information from validation


def check_type(resource_type: str) -> None:
    if resource_type not in RESOURCE_TYPES:
        raise NotFound.of(f"resource type {resource_type!r} is not supported by this server")


def check_body(resource_type: str, content: Mapping[str, Any]) -> None:
    found = content.get("resourceType")
    if found != resource_type:
        raise BadRequest.of(
            f"resourceType {found!r} does not match the URL ({resource_type})", "resourceType"
        )


def write_issues(content: Mapping[str, Any], profiles: Sequence[str] = ()) -> list[Issue]:
    """What validation says of a resource about to be stored, plus the server's own refusal
    of a SUBSETTED view; every write (plain, PATCH, Bundle entry) asks this."""
    return [*subsetted_issues(content), *validate_resource(dict(content), profiles)]


def check_valid(content: Mapping[str, Any], profiles: Sequence[str] = ()) -> tuple[Issue, ...]:
    """Every issue; any error -> 422 carrying all of them (nothing stored)."""
    issues = write_issues(content, profiles)
    if errors(issues):
        raise Unprocessable(*issues)
    return tuple(issues)


def with_new_id(content: Mapping[str, Any]) -> dict[str, Any]:
    """The server assigns the id on create; a client id is ignored (http.html#create)."""
    meta = {
        k: v
        for k, v in (content.get("meta") or {}).items()
        if k not in ("versionId", "lastUpdated")
    }
    fresh = {**content, "id": new_id()}
    if meta:
        fresh["meta"] = meta
    else:
        fresh.pop("meta", None)
    return fresh


def conditional(
    resource_type: str, if_none_exist: str, max_count: int, base_url: str = "",
    *, claimed: bool = True, label: str = "If-None-Exist",
) -> ParsedSearch:
    """`If-None-Exist: identifier=sys|val` (or `Type?...`) as a strict search; a reference
    value absolute on our base (`subject=<base>/Patient/1`) is searched (and claimed) as
    `Patient/1`, as in a search. `claimed` (a conditional create or update, whose criteria
    the created resource claims): chained parameters are refused, because what they match
    changes with other resources, which a claim held by this one cannot follow. `label`
    names the criteria in the messages."""
    check_criteria(if_none_exist, label)
    pairs = parse_qsl(split_criteria(if_none_exist)[1], keep_blank_values=True)
    known = SEARCH_PARAMS.get(resource_type, {})
    parsed = parse_search(
        resource_type,
        pairs,
        known,
        default_count=2,
        max_count=max_count,
        handling="strict",
        base_url=base_url,
    )
    if parsed.subset or parsed.includes:
        raise BadRequest.of(
            f"{label} {if_none_exist!r}: _summary, _elements and _include do not "
            "belong in a condition", code="not-supported",
        )
    if claimed and any(p.chain is not None for p in parsed.query.params):
        raise BadRequest.of(
            f"{label} {if_none_exist!r}: chained parameters are not supported in a "
            "condition (name the resource's own elements)", code="not-supported",
        )
    return replace(parsed, query=replace(parsed.query, count=2, offset=0, sort=(), summary=None))


def claim_key(parsed: ParsedSearch) -> str:
    """The canonical form of a conditional-create query: sorted `name=values` pairs."""
    return "&".join(f"{k}={v}" for k, v in sorted(query_pairs(parsed.query)))


async def match_one(
    repo: Repository, parsed: ParsedSearch, label: str = "If-None-Exist"
) -> StoredResource | None:
    page = await repo.search(parsed.query)
    if page.total > 1 or len(page.items) > 1:
        raise PreconditionFailed.of(
            f"{label} matched {page.total} resources; it must match at most one",
            code="multiple-matches",
        )
    return page.items[0] if page.items else None


async def create(
    store: Store,
    caller: Caller,
    content: Mapping[str, Any],
    if_none_exist: str | None = None,
    base_url: str = "",
) -> Written:
    tasks.check_client_create(str(content.get("resourceType")))
    issues = check_valid(content)
    new = with_new_id(content)
    kind = new["resourceType"]
    parsed = conditional(kind, if_none_exist, 2, base_url) if if_none_exist else None
    one_shot = parsed is None and one_statement(new)
    cached = True
    while True:
        try:
            return await create_once(store, caller, new, parsed, issues, base_url, one_shot,
                                     cached=cached)
        except StaleRead:  # a cached directory read went out of date: read afresh
            if not cached:
                raise
            cached = False
        except ClaimTaken as taken:
            lenient = parsed is not None
            return Written(await claimed(store, caller, taken, new, lenient=lenient), False)


async def create_once(
    store: Store,
    caller: Caller,
    new: dict[str, Any],
    parsed: ParsedSearch | None,
    issues: tuple[Issue, ...],
    base_url: str,
    one_shot: bool,
    *,
    cached: bool = True,
) -> Written:
    """One attempt of `create` (`Store.transact`, run again after a deadlock): in
    `Store.one_shot` (reads, maybe cached, then one statement) or in one transaction."""

    async def work(repo: Repository) -> Written:
        if parsed is None:
            return await create_in(repo, new, None, issues, base_url)
        key = claim_key(parsed)
        await repo.serialise_claims([(new["resourceType"], key)])
        found = await match_one(repo, parsed)
        if found is not None:
            return Written(found, created=False, issues=issues)
        done = await create_in(repo, new, key, issues, base_url)
        await check_satisfied(repo, parsed, done.stored, "If-None-Exist")
        return done

    return await store.transact(caller, work, one_shot=one_shot, cached=cached)


async def create_in(
    repo: Repository, new: dict[str, Any], key: str | None, issues: tuple[Issue, ...],
    base_url: str,
) -> Written:
    """A validated resource with its new id, created in the caller's transaction (with its
    workflow: a referral's Task, feedback), claiming `key` when given."""
    items = await prepare_create(repo, NewResource(new, claim_key=key), {})
    stored = await repo.create_many(items)
    await feedback.accept_feedback(repo, stored, base_url)
    return Written(stored[0], created=True, issues=issues)


async def check_satisfied(
    repo: Repository, parsed: ParsedSearch, stored: StoredResource, label: str
) -> None:
    """A resource created under criteria must match them (HAPI refuses it too): else it
    would hold their claim while a search for them does not find it. 400, and the
    transaction rolls back. (Whether others match too is not asked: a plain create may
    have added one meanwhile.)"""
    own = SearchParam("_id", (stored.id,))
    query = replace(parsed.query, params=(*parsed.query.params, own))
    page = await repo.search(query)
    if page.total != 1:
        raise BadRequest.of(
            f"the resource does not match its own {label} criteria "
            f"({claim_key(parsed)}): it would not be found by them", code="invariant",
        )


async def claimed(
    store: Store, caller: Caller, taken: ClaimTaken, new: Mapping[str, Any], *, lenient: bool
) -> StoredResource:
    """After a lost claim race (rolled back): the resource that holds the claim."""
    async with store.begin(caller) as repo:
        return await holder(repo, taken.resource_type, taken.key, new, lenient=lenient)


async def holder(
    repo: Repository, resource_type: str, key: str, new: Mapping[str, Any], *, lenient: bool
) -> StoredResource:
    found = await repo.find_claim(resource_type, key)
    if found is None:
        raise claim_hidden(key)
    if not key.startswith(referrals.CLAIM_PREFIX):
        return found
    focus = referrals.focus_of(found.content)
    referral = await repo.read(*focus) if focus else found
    if not lenient and not referrals.same_referral(referral.content, new):
        raise Conflict.of(
            f"{referral.ref} already holds this identifier from the same sender",
            "ServiceRequest.identifier",
            code="duplicate",
        )
    return referral


def claim_hidden(key: str, label: str = "If-None-Exist") -> FhirError:
    """The claim is held by a resource the caller cannot see (the holder committed before
    the claim was refused, so a retry would meet it again). Neutral: no claim key, no
    `retry`, nothing of the hidden holder; the same 409 whatever holds it."""
    if key.startswith(referrals.CLAIM_PREFIX):
        return Conflict.of(
            "the referral identifier is already in use for this sender",
            "ServiceRequest.identifier",
            code="duplicate",
        )
    return Conflict.of(f"the {label} criteria are already claimed by another resource",
                       code="duplicate")


async def update(
    store: Store,
    caller: Caller,
    ref: tuple[str, str],
    content: Mapping[str, Any],
    match: VersionMatch | None,
) -> Written:
    """`PUT [type]/[id]`; `If-Match` (`match`) is decided in the write's own transaction
    (`versions.expected_in`), as for the conditional forms."""
    resource_type, rid = ref
    if content.get("id") != rid:
        raise BadRequest.of(
            f"the body's id {content.get('id')!r} must equal the URL id {rid!r}",
            f"{resource_type}.id",
        )
    issues = check_valid(content)

    async def work(repo: Repository) -> Updated:
        try:
            expected = await versions.expected_in(repo, ref, match)
            return await write_update(repo, resource_type, rid, content, expected)
        except NotFound as exc:
            if organisation_caller(caller):
                raise  # unknown and not-yours alike: the 404 a read gives
            raise no_update_create(resource_type, rid) from exc

    done = await store.transact(caller, work)
    return Written(done.stored, created=done.recreated, issues=issues)


async def conditional_update(
    store: Store,
    caller: Caller,
    resource_type: str,
    criteria: str,
    content: Mapping[str, Any],
    match: VersionMatch | None,
    base_url: str = "",
) -> Written:
    """`PUT [type]?[criteria]` (http.html#cond-update): one match is updated (a body id, if
    any, must be its id); none creates the resource with a new id, which must match the
    criteria, claiming them as a conditional create does; several are 412. A body id with
    no match would be an update-as-create, which this server does not allow (405). The
    search and the write run under the criteria's lock (`serialise_claims`), so concurrent
    requests create one resource and update it in turn. A claim still taken is held by a
    resource the caller cannot see: 409, as for a conditional create."""
    label = "conditional update"
    parsed = conditional(resource_type, criteria, 2, base_url, label=label)
    issues = check_valid(content)
    rid = content.get("id")

    async def work(repo: Repository) -> Written:
        await repo.serialise_claims([(resource_type, claim_key(parsed))])
        found = await match_one(repo, parsed, label)
        if found is None:
            if rid is not None:
                raise update_as_create(resource_type, rid)
            if match is not None:
                raise PreconditionFailed.of(
                    f"If-Match: no {resource_type} matches the {label} criteria")
            tasks.check_client_create(resource_type)
            made = await create_in(repo, with_new_id(content), claim_key(parsed), issues,
                                   base_url)
            await check_satisfied(repo, parsed, made.stored, label)
            return made
        if rid is not None and rid != found.id:
            raise other_id(resource_type, rid, found.id, f"{resource_type}.id")
        expected = await versions.expected_in(repo, (resource_type, found.id), match)
        done = await write_update(repo, resource_type, found.id,
                                  {**content, "id": found.id}, expected)
        return Written(done.stored, created=done.recreated, issues=issues)

    try:
        return await store.transact(caller, work)
    except ClaimTaken as taken:
        raise claim_hidden(taken.key, label) from None


def update_as_create(resource_type: str, rid: str) -> FhirError:
    """A conditional update that matched nothing, with an id in its body: R4 treats it as
    an update-as-create, which this server does not allow (405, updateCreate false)."""
    return MethodNotAllowed.of(
        f"no {resource_type} matches the conditional update and the body has the id {rid!r}: "
        "this server assigns ids (updateCreate is false); send the resource without an id to "
        "create it", code="not-supported",
    )


def other_id(resource_type: str, rid: str, found: str, where: str) -> FhirError:
    """A conditional update's body id that is not its match's (400, http.html#cond-update)."""
    return BadRequest.of(
        f"the body's id {rid!r} is not the id of the {resource_type} the criteria match "
        f"({found!r})", where,
    )


async def write_update(
    repo: Repository, resource_type: str, rid: str, content: Mapping[str, Any], expected: int | None
) -> Updated:
    """A validated update in the caller's transaction; a Task goes through its status
    machine (service/workflow/tasks.py; a deleted Task stays 410, so never re-created).
    `recreated`: the update replaced a deletion (201)."""
    if resource_type == "Task":
        return Updated(await tasks.change_task(repo, rid, content, expected))
    orgs = await update_orgs(repo, content, {})
    return await repo.update_reporting(
        resource_type, rid, dict(content), orgs, expected, keep_orgs=True
    )


async def patch(
    store: Store,
    caller: Caller,
    ref: tuple[str, str],
    operations: Any,
    match: VersionMatch | None,
    base_url: str = "",
) -> Written:
    """JSON Patch: read, apply, validate, then the same path as an update (one transaction;
    the patch applies to the version it read, and If-Match still guards it). The result's
    references are checked as a PUT body's: a conditional one is 400, one absolute on our
    base is stored relative."""

    async def work(repo: Repository) -> Written:
        expected = await versions.expected_in(repo, ref, match)
        return await patch_in(repo, ref, operations, expected, base_url)

    return await store.transact(caller, work)


async def patch_in(repo: Repository, ref: tuple[str, str], operations: Any,
                   expected: int | None, base_url: str = "",
                   mapping: Mapping[str, str] | None = None) -> Written:
    """`patch` in the caller's transaction (also a Bundle's PATCH entry, whose `mapping`
    rewrites the result's references to other entries, `urn:uuid:` fullUrls included)."""
    resource_type, rid = ref
    current = await repo.read(resource_type, rid)
    content = without_empties(apply_patch(current.content, operations))
    if content.get("id") != rid or content.get("resourceType") != resource_type:
        raise Unprocessable.of("a patch may not change id or resourceType", code="invariant")
    if mapping:
        content = rewrite_references(content, mapping)
    content = literal_references(content, base_url)
    issues = check_valid(content)
    done = await write_update(repo, resource_type, rid, content, patch_guard(expected, current))
    return Written(done.stored, created=False, issues=issues)


async def the_match(repo: Repository, parsed: ParsedSearch, label: str) -> tuple[str, str]:
    """The one resource a conditional patch or delete names: none is 404 (nothing to
    change), several 412 (`match_one`)."""
    found = await match_one(repo, parsed, label)
    if found is None:
        raise NotFound.of(f"no {parsed.query.resource_type} matches the {label} criteria")
    return found.resource_type, found.id


async def conditional_patch(
    store: Store,
    caller: Caller,
    resource_type: str,
    criteria: str,
    operations: Any,
    match: VersionMatch | None,
    base_url: str = "",
) -> Written:
    """`PATCH [type]?[criteria]` (http.html#patch): the criteria are searched as the caller
    sees the type; one match is patched as `PATCH [type]/[id]` would be (`If-Match`
    applies to it), none is 404, several 412. Nothing is created, so nothing is claimed
    and chained criteria are allowed."""
    parsed = conditional(resource_type, criteria, 2, base_url, claimed=False,
                         label="conditional patch")

    async def work(repo: Repository) -> Written:
        found = await the_match(repo, parsed, "conditional patch")
        expected = await versions.expected_in(repo, found, match)
        return await patch_in(repo, found, operations, expected, base_url)

    return await store.transact(caller, work)


async def conditional_delete(
    store: Store,
    caller: Caller,
    resource_type: str,
    criteria: str,
    match: VersionMatch | None,
    base_url: str = "",
) -> StoredResource | None:
    """`DELETE [type]?[criteria]` (http.html#cdelete; conditionalDelete `single`): the
    criteria are searched as the caller sees the type; the one match is deleted as
    `DELETE [type]/[id]` is (a Task or a referral is 405, `If-Match` applies to it); none
    is 404 (nothing to delete), several 412."""
    deletion.check_type_deletable(resource_type)
    parsed = conditional(resource_type, criteria, 2, base_url, claimed=False,
                         label="conditional delete")

    async def work(repo: Repository) -> StoredResource | None:
        found = await the_match(repo, parsed, "conditional delete")
        await deletion.check_delete(repo, *found)
        expected = await versions.expected_in(repo, found, match)
        return await repo.delete(*found, expected)

    return await store.transact(caller, work)


def patch_guard(expected: int | None, current: StoredResource) -> int | None:
    """A Task change needs If-Match from an organisation; other types patch what was read."""
    if current.resource_type == "Task":
        return expected
    return expected if expected is not None else current.version_id


def organisation_caller(caller: Caller) -> bool:
    """An update of an id such a caller does not find answers the 404 a read gives: unknown
    and not-yours alike, so the status never tells that a hidden resource exists (HAPI and
    Medplum answer 404 for what the caller cannot see). Only the system, which sees
    everything, gets `no_update_create`'s 405 (the id is truly unknown)."""
    return caller.org_refs is not None


def no_update_create(resource_type: str, rid: str) -> FhirError:
    """R4 http.html#update: 405 when the resource did not exist and the server does not
    allow client-defined ids (CapabilityStatement updateCreate = false); for the system
    caller only (`organisation_caller`)."""
    return MethodNotAllowed.of(
        f"{resource_type}/{rid} does not exist and this server assigns ids (updateCreate is "
        "false): create it with POST",
        code="not-supported",
    )


async def read(store: Store, caller: Caller, resource_type: str, rid: str) -> StoredResource:
    async with store.begin(caller, readonly=True) as repo:
        return await repo.read(resource_type, rid)


async def vread(store: Store, caller: Caller, ref: tuple[str, str], version: int) -> StoredResource:
    async with store.begin(caller, readonly=True) as repo:
        return await repo.vread(ref[0], ref[1], version)


async def delete(
    store: Store, caller: Caller, resource_type: str, rid: str, match: VersionMatch | None
) -> StoredResource | None:
    """A Task, or a referral with its Task, is 405 (`deletion.check_delete`)."""

    async def work(repo: Repository) -> StoredResource | None:
        await deletion.check_delete(repo, resource_type, rid)
        expected = await versions.expected_in(repo, (resource_type, rid), match)
        return await repo.delete(resource_type, rid, expected)

    return await store.transact(caller, work)


async def search(store: Store, caller: Caller, parsed: ParsedSearch) -> SearchPage:
    async with store.begin(caller, readonly=True) as repo:
        return await search_in(repo, parsed)


async def search_in(repo: Repository, parsed: ParsedSearch) -> SearchPage:
    """The page and, for `_include` / `_revinclude`, the resources they add (same reads)."""
    page = await repo.search(parsed.query)
    if not parsed.includes or not page.items:
        return page
    found, more = await included(repo, parsed.includes, page.items)
    return replace(page, included=found, more_included=more)


def validation_input(
    resource_type: str, body: Mapping[str, Any], profiles: Sequence[str]
) -> tuple[dict[str, Any], list[str]]:
    """`$validate` takes the resource, or Parameters with `resource` and `profile`."""
    wanted: list[Any] = list(profiles)
    content: Any = body
    if body.get("resourceType") == "Parameters" and resource_type != "Parameters":
        params = [p for p in body.get("parameter") or [] if isinstance(p, dict)]
        content = next((p.get("resource") for p in params if p.get("name") == "resource"), None)
        wanted += [
            p.get("valueUri") or p.get("valueCanonical")
            for p in params
            if p.get("name") == "profile"
        ]
        if not isinstance(content, dict):
            raise BadRequest.of(
                "Parameters needs a 'resource' parameter", "Parameters.parameter", code="required"
            )
    check_body(resource_type, content)
    return dict(content), [p for p in wanted if isinstance(p, str) and p]
