"""Running transaction and batch Bundles against the store.

A transaction is planned (ids assigned, `fullUrl` references rewritten, every resource
validated) before the database is touched, then executed in ONE `store.begin`: deletes,
creates (one `create_many`, referral Tasks included), updates, patches (each applied to the
version it reads there, then validated as an update), reads. Creates alone that
need no routing or feedback run as that one `create_many` statement in `Store.one_shot`
(`one_statement`), as a plain create does. A lost claim race
(`ClaimTaken`) rolls everything back and the whole transaction is re-run knowing the claim
is taken, so its entry resolves to the resource that holds it (200, not a second 201).
A batch runs each entry as a one-entry transaction and reports each outcome.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from profiles.issues import Issue, errors
from service.api import interactions, versions
from service.api.bundles import (
    Entry,
    EntryResult,
    check_overlap,
    error_entry,
    in_order,
    parse_bundle,
    read_bundle,
    rebase,
    rebased,
    response_bundle,
    response_entry,
    with_issues,
)
from service.api.deps import resource_id
from service.api.headers import Handling, Prefer, split_criteria
from service.api.references import (
    is_conditional,
    localise_references,
    reference_paths,
    rewrite_references,
)
from service.api.searchset import ParsedSearch, history, parse_search, searchset
from service.api.subsetting import Subset, apply, for_read
from service.api.urls import Urls
from service.errors import (
    BadRequest,
    Conflict,
    FhirError,
    Gone,
    NotFound,
    PreconditionFailed,
    Unprocessable,
)
from service.ids import new_id
from service.settings import Settings
from service.store.db import Store
from service.store.errors import ClaimTaken, StaleRead
from service.store.model import Caller, NewResource, StoredResource, Updated
from service.store.repository import Repository
from service.store.search_params import SEARCH_PARAMS
from service.workflow import deletion, feedback, intake, tasks
from service.workflow.intake import prepare_create, update_orgs

Claim = tuple[str, str]  # (resource type, claim key)


@dataclass(frozen=True, slots=True)
class Context:
    store: Store
    caller: Caller
    settings: Settings
    handling: Handling = "lenient"  # Prefer: handling of the request, for GET entries

    @property
    def urls(self) -> Urls:
        return Urls.of(self.settings.base_url)


@dataclass(slots=True)
class Plan:
    entries: list[Entry]
    refs: dict[int, str] = field(default_factory=dict)  # POST/PUT index -> Type/id
    contents: dict[int, dict[str, Any]] = field(default_factory=dict)  # rewritten bodies
    # ifNoneExist and conditional updates: parsed (fullUrls as the ids planned), and the
    # query text, re-parsed when the transaction runs once earlier entries' matches are known
    conditions: dict[int, ParsedSearch] = field(default_factory=dict)
    criteria: dict[int, str] = field(default_factory=dict)
    # the conditional entries whose fullUrl each one's criteria name, and the order that
    # searches those before it (`_order_conditions`)
    depends: dict[int, frozenset[int]] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    issues: dict[int, tuple[Issue, ...]] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)  # fullUrl -> Type/id
    # Conditional references (`Patient?identifier=s|v`) -> (their search, where first seen)
    searches: dict[str, tuple[ParsedSearch, str]] = field(default_factory=dict)
    # conditional patches and deletes (`Entry.targeted`): their criteria, fullUrls as the
    # ids planned; searched when the transaction runs (`_targets`)
    targets: dict[int, str] = field(default_factory=dict)
    # a conditional PATCH entry's fullUrl stands for its match: planned as a `Type/id` of
    # its own, rewritten to the match once `_targets` knows it
    stand_ins: dict[int, str] = field(default_factory=dict)

    by_index: dict[int, Entry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_index = {e.index: e for e in self.entries}

    def entry(self, index: int) -> Entry:
        return self.by_index[index]


@contextmanager
def at(entry: Entry) -> Iterator[None]:
    """Errors raised for an entry point at it: `Bundle.entry[i]...`."""
    try:
        yield
    except ClaimTaken:
        raise  # the transaction is re-run; never re-shaped
    except FhirError as exc:
        raise rebased(exc, entry.where) from exc


def plan(entries: list[Entry], max_count: int, base_url: str = "") -> Plan:
    """Assign ids, rewrite `fullUrl` references (in bodies and in ifNoneExist), parse
    conditional references, validate; raises before any I/O."""
    out = Plan(entries)
    mapping = out.mapping
    for entry in entries:
        with at(entry):
            if not (entry.method == "GET" and entry.path == "_history"):  # system history
                interactions.check_type(entry.resource_type)
            if entry.method == "POST":
                tasks.check_client_create(entry.resource_type)
        if (entry.method == "POST" or entry.conditional) and entry.resource is not None:
            # a conditional update's id is its match's, or this one if it creates
            out.refs[entry.index] = f"{entry.resource_type}/{new_id()}"
        elif entry.method == "PUT":
            out.refs[entry.index] = entry.path
        if entry.full_url and entry.index in out.refs:
            mapping[entry.full_url] = out.refs[entry.index]
        elif entry.full_url and entry.method == "PATCH" and entry.targeted:
            out.stand_ins[entry.index] = f"{entry.resource_type}/{new_id()}"
            mapping[entry.full_url] = out.stand_ins[entry.index]
        elif entry.full_url and entry.method == "PATCH":
            mapping[entry.full_url] = entry.path
    stand_ins = set(out.stand_ins.values())
    for entry in entries:
        criteria = entry.query if entry.conditional else (
            entry.if_none_exist if entry.method == "POST" else None)
        if entry.index in out.refs and criteria:
            with at(entry):
                out.criteria[entry.index] = mapped_query(criteria, mapping)
                if named(out.criteria[entry.index]) & stand_ins:
                    raise _names_a_stand_in(entry)
                out.conditions[entry.index] = interactions.conditional(
                    entry.resource_type, out.criteria[entry.index], max_count, base_url,
                    label=label_of(entry),
                )
    for entry in entries:
        if entry.targeted:
            with at(entry):
                if entry.method == "DELETE":
                    deletion.check_type_deletable(entry.resource_type)
                out.targets[entry.index] = mapped_query(entry.query, mapping)
                if named(out.targets[entry.index]) & stand_ins:
                    raise _names_a_stand_in(entry)
                interactions.conditional(  # 400 for criteria it could never search
                    entry.resource_type, out.targets[entry.index], max_count, base_url,
                    claimed=False, label=label_of(entry))
    _order_conditions(out)
    for index, ref in out.refs.items():
        entry = out.entry(index)
        body = entry.resource or {}
        created = entry.method == "POST" or entry.conditional
        fresh = interactions.with_new_id(body) if created else dict(body)
        content = rewrite_references(fresh | {"id": ref.split("/")[1]}, mapping)
        out.contents[index] = localise_references(content, base_url)
        _conditional_references(out, entry, max_count, base_url)
    _validate(out)
    return out


def named(criteria: str) -> set[str]:
    """Every value the criteria name (`subject=Patient/1,Patient/2` -> both)."""
    pairs = parse_qsl(split_criteria(criteria)[1], keep_blank_values=True)
    return {v for _, value in pairs for v in value.split(",")}


def _names_a_stand_in(entry: Entry) -> FhirError:
    return BadRequest.of(
        f"the criteria of {entry.where} name a conditional PATCH entry's fullUrl, whose "
        "resource is known only when that entry's own search runs", "request",
        code="not-supported")


def label_of(entry: Entry) -> str:
    """What an entry's criteria are called in messages."""
    if entry.targeted:
        return f"conditional {entry.method.lower()}"
    return "conditional update" if entry.conditional else "If-None-Exist"


def _order_conditions(p: Plan) -> None:
    """Entry order, except that criteria naming another conditional entry's fullUrl (its
    planned id) come after that entry: when it matches an existing resource, they search
    for that one (Kahn's algorithm, the lowest index first). Criteria that name each other
    in a circle: 400 at the first of them."""
    planned = {p.refs[i]: i for i in p.conditions}
    dependents: dict[int, list[int]] = {i: [] for i in p.conditions}
    waiting: dict[int, int] = {}
    for index in p.conditions:
        names = {planned[v] for v in named(p.criteria[index]) if v in planned}
        if index in names:  # its own planned id: never found, so a new one every time
            entry = p.entry(index)
            raise BadRequest.of(
                f"the criteria of {entry.where} name its own fullUrl: they can never find "
                "what it writes", f"{entry.where}.request", code="invariant")
        p.depends[index] = frozenset(names)
        waiting[index] = len(p.depends[index])
        for other in p.depends[index]:
            dependents[other].append(index)
    ready = [i for i, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    while ready:
        index = heapq.heappop(ready)
        p.order.append(index)
        for later in dependents[index]:
            waiting[later] -= 1
            if waiting[later] == 0:
                heapq.heappush(ready, later)
    if len(p.order) < len(p.conditions):
        first = p.entry(min(set(p.conditions) - set(p.order)))
        raise BadRequest.of(
            f"the criteria of {first.where} and of other entries name each other's fullUrl "
            "in a circle: none can be searched first", f"{first.where}.request",
            code="invariant",
        )


def mapped_query(query: str, mapping: Mapping[str, str]) -> str:
    """An ifNoneExist with `fullUrl` placeholders (`subject=urn:uuid:...`) rewritten to the
    ids assigned, as HAPI does, before it is parsed."""
    head, tail = split_criteria(query)
    pairs = [
        (name, ",".join(mapping.get(v, v) for v in value.split(",")))
        for name, value in parse_qsl(tail, keep_blank_values=True)
    ]
    return f"{head}{urlencode(pairs, safe='|:/,')}"


def _conditional_references(p: Plan, entry: Entry, max_count: int, base_url: str) -> None:
    """Parse each `Type?query` reference of the entry (400 when malformed)."""
    content = p.contents[entry.index]
    rtype = str(content.get("resourceType"))
    for path, ref in reference_paths(content, rtype):
        if not is_conditional(ref) or ref in p.searches:
            continue
        where = f"{entry.where}.resource{path[len(rtype) :]}"
        kind = ref.partition("?")[0]
        try:
            interactions.check_type(kind)
            parsed = interactions.conditional(kind, ref, max_count, base_url,
                                              claimed=False, label="a conditional reference")
            p.searches[ref] = (parsed, where)
        except FhirError as exc:
            raise BadRequest(*(rebase(i, where) for i in exc.issues)) from exc


def _validate(p: Plan) -> None:
    found: list[Issue] = []
    for index, content in p.contents.items():
        issues = interactions.write_issues(content)
        p.issues[index] = tuple(issues)
        found += [rebase(i, p.entry(index).where) for i in issues]
    if errors(found):
        raise Unprocessable(*found)


async def transaction(ctx: Context, entries: list[Entry]) -> list[EntryResult]:
    p, taken = plan(entries, ctx.settings.max_page_size, ctx.settings.base_url), set[Claim]()
    one_shot, cached, locks = one_statement(p), True, set[Claim]()
    while True:
        try:  # `Store.transact` re-runs it after a deadlock
            return await ctx.store.transact(
                ctx.caller, lambda repo: _execute(repo, ctx, p, taken, locks),
                one_shot=one_shot, cached=cached)
        except _LockNeeded as needed:  # rolled back; next time it is locked up front
            if len(locks) >= len(p.conditions):
                raise Conflict.of("the transaction's criteria are contended; retry") from None
            locks.add(needed.claim)
        except StaleRead:  # a cached directory read went out of date: read afresh
            if not cached:
                raise
            cached = False
        except ClaimTaken as exc:
            claim = (exc.resource_type, exc.key)
            if claim in taken:
                raise Conflict.of(f"{claim[0]} claim {claim[1]!r} is contended; retry") from exc
            taken.add(claim)
            one_shot = False  # resolving the holder reads claims: a transaction


def one_statement(p: Plan) -> bool:
    """True when the transaction is creates only (no ifNoneExist, no conditional references)
    whose resources each need nothing beyond `prepare_create` (`intake.one_statement`): its
    directory reads and ONE `create_many` statement, atomic by itself, in `Store.one_shot`
    as a plain create is, without BEGIN/COMMIT round trips."""
    return (
        all(e.method == "POST" for e in p.entries)
        and not p.conditions
        and not p.searches
        and all(intake.one_statement(c) for c in p.contents.values())
    )


async def batch(ctx: Context, entries: list[Entry | FhirError]) -> list[EntryResult | FhirError]:
    """Each entry alone; an entry that could not be read answers its own error."""
    results: list[EntryResult | FhirError] = []
    for entry in entries:
        if isinstance(entry, FhirError):
            results.append(entry)
            continue
        try:
            results += await transaction(ctx, [entry])
        except FhirError as exc:
            results.append(exc)
    return results


async def _execute(repo: Repository, ctx: Context, p: Plan, taken: set[Claim],
                   locks: set[Claim]) -> list[EntryResult]:
    # Criteria are searched under their locks (`Repository.serialise_claims`), before the
    # DELETEs, so that a conditional update whose match an entry deletes is an overlap
    # (400), not a create; an ifNoneExist whose match is deleted searches again after them.
    await repo.serialise_claims([
        *((p.entry(i).resource_type, interactions.claim_key(c))
          for i, c in p.conditions.items() if not p.depends[i]),
        *locks,
    ])
    existing, conditions = await _conditions(repo, ctx, p, locks)
    touched = _check_matches(p, existing)
    p, stood_for = await _targets(repo, ctx, p, existing, touched)
    await repo.lock_rows([
        *(_ref(e.path) for e in p.entries
          if e.method in ("DELETE", "PUT", "PATCH") and not e.conditional),
        *((found.resource_type, found.id) for i, found in existing.items()
          if p.entry(i).conditional),
    ])
    results = [await _delete(repo, e) for e in in_order(p.entries, "DELETE")]
    await _after_deletes(repo, p, existing, conditions)
    _check_distinct_creates(p, existing, conditions)
    resolved = {**await _resolve_references(repo, p), **stood_for}
    contents, items = await _prepare(repo, p, existing, conditions, taken, resolved)
    results += await _create(repo, p, items, existing, ctx.settings.base_url)
    await _check_satisfied(repo, p, items, conditions, results)
    results += [await _update(repo, p, e, contents[e.index], existing.get(e.index))
                for e in in_order(p.entries, "PUT") if e.index not in items]
    # a patch's references to POSTs that matched (ifNoneExist) or lost a claim race go to
    # the resource they resolved to; conditional references stay 400 in a patch, as in PATCH
    matched = {**{p.refs[i]: found.ref for i, found in existing.items()}, **stood_for}
    results += [await _patch(repo, p, e, matched, ctx.settings.base_url)
                for e in in_order(p.entries, "PATCH")]
    results += [await _get(repo, ctx, e) for e in in_order(p.entries, "GET")]
    return sorted(results, key=lambda r: r.entry.index)


async def _delete(repo: Repository, entry: Entry) -> EntryResult:
    with at(entry):
        kind, _, rid = entry.path.partition("/")
        await deletion.check_delete(repo, kind, rid)
        expected = await versions.expected_in(repo, (kind, rid), entry.if_match)
        return EntryResult(entry, 204, await repo.delete(kind, rid, expected))


async def _resolve_references(repo: Repository, p: Plan) -> dict[str, str]:
    """http.html#trules: each conditional reference must match exactly one resource
    (none: 404, several: 412, as HAPI); it becomes `Type/id`."""
    resolved = {}
    for ref, (parsed, where) in p.searches.items():
        page = await repo.search(parsed.query)
        if page.total > 1:
            raise PreconditionFailed.of(
                f"conditional reference {ref!r} matches {page.total} resources",
                where,
                "multiple-matches",
            )
        if not page.items:
            raise NotFound.of(f"conditional reference {ref!r} matches no resource", where)
        resolved[ref] = page.items[0].ref
    return resolved


def _ref(path: str) -> tuple[str, str]:
    kind, _, rid = path.partition("/")
    return kind, rid


class _LockNeeded(Exception):
    """Criteria known only after a search (they name another entry's match) whose lock
    another transaction holds: start again, with it among the locks taken up front."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(claim)
        self.claim = claim


async def _conditions(
    repo: Repository, ctx: Context, p: Plan, locks: set[Claim]
) -> tuple[dict[int, StoredResource], dict[int, ParsedSearch]]:
    """What each ifNoneExist and conditional update matches (412 for several), searched in
    `p.order`, and the criteria as searched: naming another entry's fullUrl, they name
    what that entry matched."""
    found_all: dict[int, StoredResource] = {}
    searched: dict[int, ParsedSearch] = {}
    for index in p.order:
        entry, parsed = p.entry(index), p.conditions[index]
        matched = {p.refs[j]: found_all[j].ref for j in p.depends[index] if j in found_all}
        with at(entry):
            if matched:
                parsed = _searched_now(ctx, entry, p.criteria[index], matched)
                claim = (entry.resource_type, interactions.claim_key(parsed))
                if claim not in locks and not await repo.try_serialise_claim(*claim):
                    raise _LockNeeded(claim)
            searched[index] = parsed
            found = await interactions.match_one(repo, parsed, label_of(entry))
        if found is not None:
            found_all[index] = found
    return found_all, searched


def _searched_now(ctx: Context, entry: Entry, criteria: str, matched: Mapping[str, str],
                  *, claimed: bool = True) -> ParsedSearch:
    """An entry's criteria as the transaction searches them: the planned ids of other
    entries replaced by what those entries matched."""
    return interactions.conditional(
        entry.resource_type, mapped_query(criteria, matched), ctx.settings.max_page_size,
        ctx.settings.base_url, claimed=claimed, label=label_of(entry))


async def _after_deletes(
    repo: Repository, p: Plan, existing: dict[int, StoredResource],
    conditions: Mapping[int, ParsedSearch],
) -> None:
    """An ifNoneExist whose match a DELETE entry deleted searches again (DELETEs come
    first, http.html#transaction), unless other entries' criteria followed that match
    (400: they cannot all hold)."""
    deleted = {e.path for e in in_order(p.entries, "DELETE")}
    targeted = set().union(*(named(c) for c in p.targets.values()))
    for index in [i for i, found in existing.items() if found.ref in deleted]:
        entry = p.entry(index)
        with at(entry):
            if any(index in p.depends[other] for other in p.conditions) or (
                    p.refs[index] in targeted):
                raise BadRequest.of(
                    f"the ifNoneExist matches {existing[index].ref}, which a DELETE entry "
                    "deletes, and other entries' criteria name this entry's fullUrl",
                    "request.ifNoneExist", code="invariant")
            found = await interactions.match_one(repo, conditions[index], label_of(entry))
        if found is None:
            del existing[index]
        else:
            existing[index] = found


def _check_distinct_creates(
    p: Plan, existing: Mapping[int, StoredResource], conditions: Mapping[int, ParsedSearch]
) -> None:
    """Two entries that would create under the same criteria would claim the same key
    (and one would not be what the criteria find): 400 at the second."""
    seen: dict[Claim, Entry] = {}
    for index in sorted(set(conditions) - set(existing)):
        entry = p.entry(index)
        claim = (entry.resource_type, interactions.claim_key(conditions[index]))
        first = seen.setdefault(claim, entry)
        if first is not entry:
            where = "request.url" if entry.conditional else "request.ifNoneExist"
            raise BadRequest.of(
                f"the criteria of {entry.where} are those of {first.where}, and nothing "
                "matches them: both would create the one resource they stand for",
                f"{entry.where}.{where}", code="invariant")


async def _check_satisfied(
    repo: Repository, p: Plan, items: Mapping[int, list[NewResource]],
    conditions: Mapping[int, ParsedSearch], results: list[EntryResult],
) -> None:
    """A resource created under criteria must match them (else it would hold a claim its
    criteria do not find): 400 at its entry, as HAPI refuses it."""
    created = {r.entry.index: r.stored for r in results if r.status == 201}
    for index in items:
        stored = created.get(index)
        if index in conditions and stored is not None:
            with at(p.entry(index)):
                await interactions.check_satisfied(repo, conditions[index], stored,
                                                   label_of(p.entry(index)))


def _check_matches(p: Plan, existing: Mapping[int, StoredResource]) -> dict[str, Entry]:
    """A conditional update that matched writes its match: the body's id, if any, must be
    the match's (400), and no other DELETE, PUT or PATCH may touch it (400, trules). One
    that matched nothing creates: a body id would be an update-as-create (405), an ifMatch
    cannot hold (412). What each DELETE, PUT and PATCH touches so far (`Type/id` -> entry)."""
    seen = {e.path: e for e in p.entries
            if e.method in ("DELETE", "PUT", "PATCH") and not e.by_criteria}
    for entry in p.entries:
        if not entry.conditional:
            continue
        found, rid = existing.get(entry.index), (entry.resource or {}).get("id")
        with at(entry):
            if found is None and rid is not None:
                raise interactions.update_as_create(entry.resource_type, rid)
            if found is None and entry.if_match is not None:
                raise PreconditionFailed.of(
                    f"ifMatch: no {entry.resource_type} matches the conditional update",
                    "request.ifMatch")
            if found is None:
                tasks.check_client_create(entry.resource_type)
                continue
            if rid is not None and rid != found.id:
                raise interactions.other_id(entry.resource_type, rid, found.id, "resource.id")
            check_overlap(seen, found.ref, entry)
    return seen


async def _targets(repo: Repository, ctx: Context, p: Plan,
                   existing: Mapping[int, StoredResource], touched: dict[str, Entry],
                   ) -> tuple[Plan, dict[str, str]]:
    """Each conditional patch and delete searched (as the caller sees the type; criteria
    naming another entry's fullUrl name what that entry matched): its one match (none
    404, several 412) becomes its `Type/id`, touched by no other entry (400, trules). The
    plan of this run, with those entries as plain ones (`p` itself is left as planned,
    for a re-run to search again), and what each conditional PATCH's fullUrl stands for."""
    if not p.targets:
        return p, {}
    matched = {p.refs[i]: found.ref for i, found in existing.items()}
    entries, stood_for = list(p.entries), dict[str, str]()
    for position, entry in enumerate(entries):
        if entry.index not in p.targets:
            continue
        with at(entry):
            parsed = _searched_now(ctx, entry, p.targets[entry.index], matched, claimed=False)
            kind, rid = await interactions.the_match(repo, parsed, label_of(entry))
        check_overlap(touched, f"{kind}/{rid}", entry)
        entries[position] = replace(entry, url=f"{kind}/{rid}")
        if entry.index in p.stand_ins:
            stood_for[p.stand_ins[entry.index]] = f"{kind}/{rid}"
    return replace(p, entries=entries), stood_for


async def _prepare(
    repo: Repository,
    p: Plan,
    existing: dict[int, StoredResource],
    conditions: Mapping[int, ParsedSearch],
    taken: set[Claim],
    resolved: Mapping[str, str],
) -> tuple[dict[int, dict[str, Any]], dict[int, list[NewResource]]]:
    """Final bodies (conditional references resolved, references to matched entries
    redirected) and their store items; entries whose claim is known taken resolve to the
    holder, until none is left."""
    while True:
        remap = {**resolved, **{p.refs[i]: found.ref for i, found in existing.items()}}
        contents = {  # a conditional update that matched writes its content there
            i: rewrite_references(c, remap) for i, c in p.contents.items()
            if i not in existing or p.entry(i).conditional
        }
        known: Mapping[str, Mapping[str, Any]] = {
            remap.get(p.refs[i], p.refs[i]): c for i, c in contents.items()}
        items: dict[int, list[NewResource]] = {}
        for e in p.entries:
            if (e.method == "POST" or e.conditional) and e.index in p.refs \
                    and e.index not in existing:
                with at(e):  # a workflow refusal (a draft referral) points into the entry
                    items[e.index] = await prepare_create(
                        repo, _new(conditions, e.index, contents), known)
        hits = {
            i: (it.resource_type, it.claim_key or "")
            for i, its in items.items()
            for it in its
            if (it.resource_type, it.claim_key) in taken
        }
        if not hits:
            return contents, items
        for index, (kind, key) in hits.items():
            with at(p.entry(index)):
                if p.entry(index).conditional:  # its search found no holder: not ours to see
                    raise interactions.claim_hidden(key, "conditional update")
                existing[index] = await interactions.holder(
                    repo, kind, key, contents[index], lenient=index in p.conditions
                )


def _new(conditions: Mapping[int, ParsedSearch], index: int,
         contents: Mapping[int, dict[str, Any]]) -> NewResource:
    parsed = conditions.get(index)
    return NewResource(
        contents[index], claim_key=interactions.claim_key(parsed) if parsed else None
    )


async def _create(
    repo: Repository,
    p: Plan,
    items: dict[int, list[NewResource]],
    existing: dict[int, StoredResource],
    base_url: str,
) -> list[EntryResult]:
    flat = [item for group in items.values() for item in group]
    stored = await repo.create_many(flat) if flat else []
    try:
        await feedback.accept_feedback(repo, stored, base_url)
    except FhirError as exc:
        moved = _at_entry(exc, p, items, stored)
        if moved is exc:
            raise
        raise moved from exc
    results, position = [], 0
    for index, group in items.items():
        results.append(EntryResult(p.entry(index), 201, stored[position], issues=p.issues[index]))
        position += len(group)
    return results + [EntryResult(p.entry(i), 200, found) for i, found in existing.items()
                      if not p.entry(i).conditional]


def _at_entry(
    exc: FhirError, p: Plan, items: dict[int, list[NewResource]], stored: list[StoredResource]
) -> FhirError:
    """A feedback refusal about a created resource, pointed at that resource's entry."""
    about, position = feedback.about_of(exc), 0
    for index, group in items.items():
        if about in {s.ref for s in stored[position : position + len(group)]}:
            return rebased(exc, p.entry(index).where)
        position += len(group)
    return exc


async def _update(repo: Repository, p: Plan, entry: Entry, content: dict[str, Any],
                  match: StoredResource | None) -> EntryResult:
    """A PUT entry; a conditional one writes what its search matched (`match`)."""
    with at(entry):
        known = {p.refs[i]: c for i, c in p.contents.items()}
        kind, _, rid = entry.path.partition("/")
        if match is not None:
            rid, content = match.id, {**content, "id": match.id}
        expected = await versions.expected_in(repo, (kind, rid), entry.if_match)
        try:
            if kind == "Task":
                done = Updated(await tasks.change_task(repo, rid, content, expected))
            else:
                orgs = await update_orgs(repo, content, known)
                done = await repo.update_reporting(
                    kind, rid, content, orgs, expected, keep_orgs=True
                )
        except NotFound as exc:
            if interactions.organisation_caller(repo.caller):
                raise
            raise interactions.no_update_create(kind, rid) from exc
    status = 201 if done.recreated else 200
    return EntryResult(entry, status, done.stored, issues=p.issues[entry.index])


async def _patch(repo: Repository, p: Plan, entry: Entry, matched: Mapping[str, str],
                 base_url: str) -> EntryResult:
    """A PATCH entry: `interactions.patch_in`, the result's references to other entries
    rewritten (`fullUrl`s, and POSTs that matched to what they matched). The entry's
    resource is the Binary, so every issue points at its `data`, the element of the
    result or the operation named in the message."""
    with at(entry):
        kind, _, rid = entry.path.partition("/")
        expected = await versions.expected_in(repo, (kind, rid), entry.if_match)
        try:
            # a fullUrl whose POST matched goes straight to what it matched
            mapping = {**{url: matched.get(ref, ref) for url, ref in p.mapping.items()}, **matched}
            done = await interactions.patch_in(repo, (kind, rid), entry.patch, expected,
                                               base_url, mapping)
        except (NotFound, Gone):
            raise  # about the entry's url, not its patch
        except FhirError as exc:
            raise with_issues(exc, _in_data) from exc
    return EntryResult(entry, 200, done.stored, issues=tuple(_in_data(i) for i in done.issues))


_OPERATION = re.compile(r"Patch\[(\d+)\]")


def _in_data(issue: Issue) -> Issue:
    """An issue of a patch (`Patch[2]`: operation 2) or of its result (`Patient.gender`),
    at the Binary's `data`, what it was about leading the message."""
    about = _OPERATION.sub(r"operation \1", issue.expression) if issue.expression else None
    message = f"{about}: {issue.message}" if about else issue.message
    return Issue(issue.severity, issue.code, "resource.data", message)



async def _get(repo: Repository, ctx: Context, entry: Entry) -> EntryResult:
    with at(entry):
        parts = entry.path.split("/")
        if len(parts) >= 2 and parts[1] != "_history":
            parts[1] = resource_id(parts[1])  # as the REST routes take it (a UUID, else 404)
        if parts[-1] == "_history" and len(parts) <= 3:
            return EntryResult(entry, 200, resource=await _history(repo, ctx, entry, parts))
        if len(parts) in (2, 4):
            subset = for_read(parts[0], parse_qsl(entry.query), strict=ctx.handling == "strict")
        if len(parts) == 2:
            return _read_entry(entry, await repo.read(parts[0], parts[1]), subset)
        if len(parts) == 4 and parts[2] == "_history" and parts[3].isdigit():
            stored = await repo.vread(parts[0], parts[1], int(parts[3]))
            return _read_entry(entry, stored, subset)
        if len(parts) != 1:
            raise NotFound.of(f"unsupported GET {entry.url!r} in a Bundle", "request.url")
        return EntryResult(entry, 200, resource=await _search(repo, ctx, entry))


async def _history(repo: Repository, ctx: Context, entry: Entry,
                   parts: list[str]) -> dict[str, Any]:
    """A history entry (`_history`, `Type/_history`, `Type/id/_history`): the history
    Bundle the GET would answer (`versions.history_in`)."""
    pairs = parse_qsl(entry.query)
    count, offset = versions.paging(pairs, ctx.settings)
    wanted = versions.parse_history_filter(pairs)
    rtype, rid = (parts[0] if len(parts) > 1 else None), (parts[1] if len(parts) > 2 else None)
    page = await versions.history_in(repo, rtype, rid, (count, offset), wanted)
    return history(ctx.urls, versions.history_path(rtype, rid), page, count, offset, repo.now,
                   list(wanted.pairs))


def _read_entry(entry: Entry, stored: StoredResource, subset: Subset) -> EntryResult:
    """A read or vread entry; 304 (no resource) when the client holds this version
    (`request.ifNoneMatch` / `ifModifiedSince`, http.html#cread)."""
    if entry.fresh.unchanged(stored.version_id, stored.last_updated):
        return EntryResult(entry, 304, stored)
    resource = dict(apply(stored.content, subset)) if subset else None
    return EntryResult(entry, 200, stored, resource=resource)


async def _search(repo: Repository, ctx: Context, entry: Entry) -> dict[str, Any]:
    s = ctx.settings
    parsed = parse_search(
        entry.resource_type,
        parse_qsl(entry.query),
        SEARCH_PARAMS[entry.resource_type],
        default_count=s.default_page_size,
        max_count=s.max_page_size,
        handling=ctx.handling,
        base_url=s.base_url,
    )
    page = await interactions.search_in(repo, parsed)
    return searchset(ctx.urls, entry.resource_type, parsed, page, repo.now)


async def process(ctx: Context, body: Mapping[str, Any], prefer: Prefer) -> dict[str, Any]:
    """`POST [base]` with a transaction or batch Bundle -> its response Bundle."""
    ctx = replace(ctx, handling=prefer.handling)
    if body.get("type") == "transaction":
        kind, entries = parse_bundle(body, ctx.settings.base_url)
        done = await transaction(ctx, entries)
        return response_bundle(kind, [response_entry(ctx.urls, r, prefer) for r in done])
    kind, read = read_bundle(body, ctx.settings.base_url)
    results = await batch(ctx, read)
    return response_bundle(
        kind,
        [
            error_entry(r) if isinstance(r, FhirError) else response_entry(ctx.urls, r, prefer)
            for r in results
        ],
    )
