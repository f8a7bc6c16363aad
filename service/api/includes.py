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
    most `MAX_INCLUDED`; and whether there were more than that (left out). Each include
    looks only for what is not there yet, so a resource already among the matches or
    added by an earlier include takes no room."""
    seen = {m.ref for m in matches}
    out: list[StoredResource] = []
    for include in includes:
        follow = _forward if include.kind == "_include" else _reverse
        found, more = await follow(repo, include, matches, seen, MAX_INCLUDED - len(out))
        seen.update(item.ref for item in found)
        out += found
        if more:  # full, and something left out: the rest cannot change the answer
            return out, True
    return out, False


async def _forward(
    repo: Repository, include: Include, matches: Sequence[StoredResource], seen: set[str],
    room: int,
) -> tuple[list[StoredResource], bool]:
    """The targets of the matches' references not in `seen`, at most `room` of them in the
    order the matches name them; and whether more were found."""
    steps = steps_of(SEARCH_PARAMS[include.source][include.param])
    wanted: dict[tuple[str, str], None] = {}  # (type, id), in order of appearance
    for match in matches:
        for value in extract(match.content, steps):
            kind, rid = value.system, value.norm  # relative references only (Type, id)
            if (kind and rid and kind in RESOURCE_TYPES and include.target in (None, kind)
                    and f"{kind}/{rid}" not in seen):
                wanted[(kind, rid)] = None
    candidates, out, start = list(wanted), list[StoredResource](), 0
    while start < len(candidates) and len(out) <= room:
        # gone, unknown or hidden targets are not found, as in the caller's own search;
        # so look at one more than the room left (at least a batch), until it is exceeded
        chunk = candidates[start:start + max(room + 1 - len(out), _BATCH)]
        start += len(chunk)
        out += await _by_id(repo, chunk)
    return out[:room], len(out) > room


_BATCH: Final = 100


async def _by_id(repo: Repository, refs: Sequence[tuple[str, str]]) -> list[StoredResource]:
    """The resources `refs` name that the caller can read, in the order of `refs`: one
    search by `_id` per type."""
    by_type: dict[str, list[str]] = {}
    for kind, rid in refs:
        by_type.setdefault(kind, []).append(rid)
    found: dict[tuple[str, str], StoredResource] = {}
    for kind, ids in by_type.items():
        query = SearchQuery(kind, (SearchParam("_id", tuple(ids)),), count=len(ids))
        page = await repo.search(query, counted=False)  # the matches only, no count query
        found.update(((kind, item.id), item) for item in page.items)
    return [found[ref] for ref in refs if ref in found]


async def _reverse(
    repo: Repository, include: Include, matches: Sequence[StoredResource], seen: set[str],
    room: int,
) -> tuple[list[StoredResource], bool]:
    """The resources of the include's source type that refer to a match, not in `seen`, at
    most `room` of them; and whether more were found."""
    refs = tuple(dict.fromkeys(m.ref for m in matches))
    if not refs:
        return [], False
    skipped = sum(ref.startswith(f"{include.source}/") for ref in seen)
    # enough to know whether more than `room` unseen ones exist, the seen ones aside
    query = SearchQuery(include.source, (SearchParam(include.param, refs),),
                        count=room + 1 + skipped)
    page = await repo.search(query, counted=False)
    items = [item for item in page.items if item.ref not in seen]
    return items[:room], len(items) > room
