"""Search requests in and searchset / history Bundles out (pure; search.html, http.html).

`parse_search` turns query pairs into a `SearchQuery`, leniently dropping parameters the
server does not know (reported back) or refusing them under `Prefer: handling=strict`.
The Bundle builders make every `fullUrl` and paging link absolute.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from profiles.issues import Issue, to_operation_outcome
from service.api import includes as include_rules
from service.api.headers import Handling, etag
from service.api.includes import INCLUDE_PARAMS, Include, parse_includes
from service.api.references import local_ref
from service.api.subsetting import SUBSET_PARAMS, WHOLE, Subset, apply, asked
from service.api.urls import Urls
from service.errors import BadRequest
from service.store.model import HistoryPage, SearchPage, SearchParam, SearchQuery, StoredResource
from service.store.search_params import SEARCH_PARAMS, chain_targets

SILENT = frozenset({"_format", "_pretty", "_total"})  # accepted, no effect on the result
CONTROL = frozenset({"_count", "_offset", "_sort"})
ALWAYS_SORTABLE = frozenset({"_id", "_lastUpdated"})


@dataclass(frozen=True, slots=True)
class ParsedSearch:
    query: SearchQuery
    ignored: tuple[str, ...] = ()  # parameters dropped under lenient handling
    subset: Subset = WHOLE  # `_summary=true|text|data` or `_elements`
    includes: tuple[Include, ...] = ()  # `_include` / `_revinclude`

    def result_pairs(self) -> list[tuple[str, str]]:
        """The result parameters beyond the query's own, as they go into paging links."""
        return self.subset.pairs() + [(i.kind, i.text) for i in self.includes]

    @property
    def issues(self) -> list[Issue]:
        return [_ignored_issue(name) for name in self.ignored]


@dataclass(slots=True)
class _Controls:
    count: int
    offset: int = 0
    sort: list[str] = field(default_factory=list)


def parse_search(
    resource_type: str,
    pairs: Iterable[tuple[str, str]],
    known: Collection[str],
    *,
    default_count: int,
    max_count: int,
    handling: Handling = "lenient",
    base_url: str = "",
) -> ParsedSearch:
    """`base_url`: reference values absolute on this server's base become relative
    (search.html#reference: `subject=[base]/Patient/1` is `subject=Patient/1`)."""
    controls, params, ignored = _Controls(default_count), list[SearchParam](), list[str]()
    subsetting: list[tuple[str, str]] = []
    including: list[tuple[str, str]] = []
    defs = SEARCH_PARAMS.get(resource_type, {})
    for name, value in pairs:
        base, _, modifier = name.partition(":")
        if base in SILENT:
            continue
        if base in SUBSET_PARAMS:
            subsetting.append((name, value))
        elif base in INCLUDE_PARAMS:
            including.append((name, value))
        elif base in CONTROL:
            _control(controls, base, value, known, ignored)
        elif base == "_has":
            reverse = _reverse_chained(name, value, base_url)
            if reverse is None:
                ignored.append(name)
            else:
                params.append(reverse)
        elif "." in name:
            chained = _chained(resource_type, name, value, base_url)
            if chained is None:
                ignored.append(name)
            else:
                params.append(chained)
        elif base in known:
            values = _split(value)
            if base_url and base in defs and defs[base].type == "reference":
                values = tuple(local_ref(v, base_url) for v in values)
            params.append(SearchParam(base, values, modifier or None))
        else:
            ignored.append(name)
    wanted = asked(resource_type, subsetting)
    includes, not_included = parse_includes(resource_type, including)
    ignored += [*wanted.unsupported, *not_included]
    if ignored and handling == "strict":
        raise BadRequest(*(_ignored_issue(n, strict=True) for n in ignored))
    query = SearchQuery(
        resource_type,
        tuple(params),
        count=min(controls.count, max_count),
        offset=controls.offset,
        sort=tuple(controls.sort),
        summary="count" if wanted.count else None,
    )
    return ParsedSearch(query, tuple(ignored), wanted.subset,
                        () if wanted.count else includes)


MAX_CHAIN = 3  # reference hops in one chained parameter (`a.b.c.param` is three)


def _chained(resource_type: str, name: str, value: str, base_url: str,
             hops: int = 1) -> SearchParam | None:
    """`ref[:Type].param[:modifier]=value` (search.html#chaining), through a reference
    parameter of the searched type to a parameter of the target type (of every type the
    reference may point at that has it, when `:Type` is not given); `param` may itself be
    a chain (`focus:ServiceRequest.subject:Patient.identifier`), up to MAX_CHAIN hops;
    None for anything else."""
    head, _, tail = name.partition(".")
    ref_name, _, target = head.partition(":")
    step, _, rest = tail.partition(".")
    inner_name, _, inner_modifier = step.partition(":")
    reachable = chain_targets(resource_type, ref_name, inner_name)
    if not reachable:
        return None
    if target and inner_name not in SEARCH_PARAMS.get(target, {}):
        return None  # an unknown type, or one without the parameter
    # a `:Type` the reference never points at filters to nothing; it is not ignored
    # (ignoring it would widen the result)
    targets = [target] if target else reachable
    if rest:
        if hops >= MAX_CHAIN:
            return None
        inner = next((found for t in targets
                      if (found := _chained(t, tail, value, base_url, hops + 1)) is not None),
                     None)
        return None if inner is None else SearchParam(ref_name, inner.values, target or None,
                                                      chain=inner)
    values = _split(value)
    if base_url and any(SEARCH_PARAMS[t][inner_name].type == "reference" for t in targets):
        values = tuple(local_ref(v, base_url) for v in values)
    inner = SearchParam(inner_name, values, inner_modifier or None)
    return SearchParam(ref_name, values, target or None, chain=inner)


def _reverse_chained(name: str, value: str, base_url: str) -> SearchParam | None:
    """`_has:Type:reference:param[:modifier]=value` (search.html#has): the resources a
    `Type` refers to through its reference parameter `reference`, among the `Type`s that
    match `param`; one level (a nested `_has` is None, as is anything else unknown)."""
    parts = name.split(":", 3)
    if len(parts) != 4:
        return None
    _, source, reference, inner = parts
    inner_name, _, inner_modifier = inner.partition(":")
    defs = SEARCH_PARAMS.get(source, {})
    ref_def, inner_def = defs.get(reference), defs.get(inner_name)
    if ref_def is None or ref_def.type != "reference" or inner_def is None:
        return None
    values = _split(value)
    if base_url and inner_def.type == "reference":
        values = tuple(local_ref(v, base_url) for v in values)
    chain = SearchParam(inner_name, values, inner_modifier or None)
    return SearchParam("_has", values, chain=chain, has=f"{source}:{reference}")


def _control(
    controls: _Controls, name: str, value: str, known: Collection[str], ignored: list[str]
) -> None:
    if name == "_count":
        controls.count = _non_negative(name, value)
    elif name == "_offset":
        controls.offset = _non_negative(name, value)
    else:
        for key in filter(None, (k.strip() for k in value.split(","))):
            target = controls.sort if key.lstrip("-") in {*known, *ALWAYS_SORTABLE} else ignored
            target.append(key if target is controls.sort else f"_sort={key}")


def _non_negative(name: str, value: str) -> int:
    if not value.isdigit():
        raise BadRequest.of(f"{name} must be a non-negative integer, got {value!r}", code="value")
    return int(value)


def _split(value: str) -> tuple[str, ...]:
    """`a,b\\,c` -> (`a`, `b,c`): commas OR the values; `\\,` is a literal comma."""
    parts = value.replace("\\,", "\x00").split(",")
    return tuple(p.replace("\x00", ",") for p in parts)


def _ignored_issue(name: str, *, strict: bool = False) -> Issue:
    if strict:
        return Issue("error", "not-supported", None, f"unknown search parameter {name!r}")
    return Issue("warning", "not-supported", None, f"unknown search parameter {name!r} ignored")


def _more_included_issue() -> Issue:
    cap = include_rules.MAX_INCLUDED
    return Issue("warning", "too-costly", None,
                 f"more than {cap} resources to include: {cap} are included, the rest left "
                 "out (ask for a smaller _count)")


def query_pairs(query: SearchQuery) -> list[tuple[str, str]]:
    """The parameters a search actually used, as they go into its links."""
    pairs = [
        (p.text, ",".join(v.replace(",", "\\,") for v in p.values)) for p in query.params
    ]
    if query.sort:
        pairs.append(("_sort", ",".join(query.sort)))
    if query.summary:
        pairs.append(("_summary", query.summary))
    return pairs


def paging_links(
    urls: Urls, path: str, query: SearchQuery, total: int,
    extra: list[tuple[str, str]] | None = None,
) -> list[dict[str, str]]:
    """self/first/next/previous/last; `extra`: result parameters to carry (`_elements`)."""

    def link(relation: str, offset: int) -> dict[str, str]:
        paging = [("_count", str(query.count)), ("_offset", str(offset))]
        pairs = query_pairs(query) + (extra or []) + paging
        return {"relation": relation, "url": urls.query(path, pairs)}

    links = [link("self", query.offset), link("first", 0)]
    if query.summary is None and query.count and query.offset + query.count < total:
        links.append(link("next", query.offset + query.count))
    if query.offset > 0:
        links.append(link("previous", max(0, query.offset - query.count)))
    if query.count:
        links.append(link("last", max(0, (total - 1) // query.count * query.count)))
    return links


def searchset(
    urls: Urls, path: str, parsed: ParsedSearch, page: SearchPage, now: datetime
) -> dict[str, Any]:
    entries = [_match(urls, item, parsed.subset) for item in page.items]
    # `_elements` names the searched type's elements; included resources of other types
    # come whole (`_summary` is type-independent and applies to them too)
    kept = parsed.subset if parsed.subset.summary else WHOLE
    entries += [_match(urls, item, kept, "include") for item in page.included]
    issues = parsed.issues + ([_more_included_issue()] if page.more_included else [])
    if issues:
        entries.append({"resource": to_operation_outcome(issues), "search": {"mode": "outcome"}})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "meta": {"lastUpdated": now.isoformat(timespec="milliseconds")},
        "total": page.total,
        "link": paging_links(urls, path, parsed.query, page.total, parsed.result_pairs()),
    }
    if entries:
        bundle["entry"] = entries
    return bundle


def _match(
    urls: Urls, item: StoredResource, subset: Subset, mode: str = "match"
) -> dict[str, Any]:
    return {
        "fullUrl": urls.full_url(item.ref),
        "resource": apply(item.content, subset),
        "search": {"mode": mode},
    }


def history(
    urls: Urls, path: str, page: HistoryPage, count: int, offset: int, now: datetime,
    filters: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """`filters`: the `_since` / `_at` pairs the request gave, kept in the paging links."""
    query = SearchQuery("history", count=count, offset=offset)
    return {
        "resourceType": "Bundle",
        "type": "history",
        "meta": {"lastUpdated": now.isoformat(timespec="milliseconds")},
        "total": page.total,
        "link": paging_links(urls, path, query, page.total, filters),
        "entry": [history_entry(urls, item) for item in page.items],
    }


def history_entry(urls: Urls, item: StoredResource) -> dict[str, Any]:
    method = "DELETE" if item.deleted else ("POST" if item.version_id == 1 else "PUT")
    entry: dict[str, Any] = {
        "fullUrl": urls.full_url(item.ref),
        "request": {"method": method, "url": item.resource_type if method == "POST" else item.ref},
        "response": {
            "status": "204" if item.deleted else ("201" if method == "POST" else "200"),
            "etag": etag(item.version_id),
            "lastModified": item.last_updated.isoformat(timespec="milliseconds"),
        },
    }
    if not item.deleted:
        entry["resource"] = item.content
    return entry
