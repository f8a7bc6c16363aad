"""`_include` and `_revinclude` (search.html#include): the resources a page's matches refer
to, and those that refer to them, added to the searchset with `search.mode = include`.

- `_include=Task:focus` (optionally `Task:focus:ServiceRequest`): for each match, the
  targets of its `focus` references. The source type must be the searched type.
- `_revinclude=Task:focus` (or `Task:focus:<searched type>`): the Tasks whose `focus`
  refers to one of the matches.
- `_summary` applies to included resources too; `_elements` (names of the searched type)
  only to the matches.

Only reference search parameters of the stored types; `:iterate`/`:recurse` and `*` are
not supported (reported, or 400 under strict handling). Included resources go through the
same store reads as any other, so a caller sees only its organisation's; a target that is
gone or hidden is left out. At most `MAX_INCLUDED` are added per page; when there are
more, the searchset says so in its OperationOutcome entry (a warning).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from service.store.indexing import extract
from service.store.model import SearchParam, SearchQuery, StoredResource
from service.store.repository import Repository
from service.store.search_params import RESOURCE_TYPES, SEARCH_PARAMS, steps_of

MAX_INCLUDED: Final = 1000
INCLUDE_PARAMS: Final = frozenset({"_include", "_revinclude"})


@dataclass(frozen=True, slots=True)
class Include:
    kind: Literal["_include", "_revinclude"]
    source: str  # the type whose reference parameter is followed
    param: str
    target: str | None = None  # _include's optional target type

    @property
    def text(self) -> str:
        return f"{self.source}:{self.param}" + (f":{self.target}" if self.target else "")


def parse_includes(
    searched: str, pairs: Iterable[tuple[str, str]]
) -> tuple[tuple[Include, ...], list[str]]:
    """The `_include` / `_revinclude` pairs (names with any `:modifier`) -> the includes
    understood and the `name=value`s that are not (for the caller to report or refuse)."""
    found: list[Include] = []
    unsupported: list[str] = []
    for name, value in pairs:
        include = _include(searched, name, value)
        if include is None:
            unsupported.append(f"{name}={value}")
        elif include not in found:
            found.append(include)
    return tuple(found), unsupported


def _include(searched: str, name: str, value: str) -> Include | None:
    if name not in INCLUDE_PARAMS:
        return None  # `_include:iterate` and the like
    source, _, rest = value.partition(":")
    param, _, target = rest.partition(":")
    definition = SEARCH_PARAMS.get(source, {}).get(param)
    if definition is None or definition.type != "reference":
        return None
    if name == "_include":
        if source != searched or (target and target not in RESOURCE_TYPES):
            return None
        return Include("_include", source, param, target or None)
    if target and target != searched:  # `Task:focus:ServiceRequest` on a ServiceRequest search
        return None
    return Include("_revinclude", source, param)


async def included(
    repo: Repository, includes: Sequence[Include], matches: Sequence[StoredResource]
) -> tuple[list[StoredResource], bool]:
    """The resources the includes add to `matches`, each once, none of the matches, at
    most `MAX_INCLUDED`; and whether there were more than that (left out)."""
    seen = {m.ref for m in matches}
    out: list[StoredResource] = []
    more = False
    for include in includes:
        if include.kind == "_include":
            found, beyond = await _forward(repo, include, matches)
        else:
            found, beyond = await _reverse(repo, include, matches)
        for item in found:
            if item.ref in seen:
                continue
            if len(out) == MAX_INCLUDED:
                more = True
                break
            seen.add(item.ref)
            out.append(item)
        more = more or beyond
    return out, more


async def _forward(
    repo: Repository, include: Include, matches: Sequence[StoredResource]
) -> tuple[list[StoredResource], bool]:
    steps = steps_of(SEARCH_PARAMS[include.source][include.param])
    targets: dict[str, dict[str, None]] = {}  # type -> ids, in order of appearance
    for match in matches:
        for value in extract(match.content, steps):
            kind, rid = value.system, value.norm  # relative references only (Type, id)
            if kind and rid and kind in RESOURCE_TYPES and include.target in (None, kind):
                targets.setdefault(kind, {})[rid] = None
    out: list[StoredResource] = []
    more = False
    for kind, ids in targets.items():  # one search by _id per type: gone, unknown or
        # hidden targets are simply not found, as they would be for the caller's own search
        more = more or len(ids) > MAX_INCLUDED
        query = SearchQuery(kind, (SearchParam("_id", tuple(ids)[:MAX_INCLUDED]),),
                            count=MAX_INCLUDED)
        found = {item.id: item for item in (await repo.search(query)).items}
        out += [found[rid] for rid in ids if rid in found]
    return out, more


async def _reverse(
    repo: Repository, include: Include, matches: Sequence[StoredResource]
) -> tuple[list[StoredResource], bool]:
    refs = tuple(dict.fromkeys(m.ref for m in matches))
    if not refs:
        return [], False
    query = SearchQuery(include.source, (SearchParam(include.param, refs),),
                        count=MAX_INCLUDED + 1)  # one more: were there more?
    items = (await repo.search(query)).items
    return items[:MAX_INCLUDED], len(items) > MAX_INCLUDED
