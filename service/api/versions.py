"""Version-aware interactions beside `interactions.py`: history `_since` and `_at`, and
`If-Match` with `*` or a list of ETags (RFC 9110 13.1.1). (An update that re-created a deleted
resource, 201 as HAPI answers, is told by `Repository.update_reporting` itself.)"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from service.api.headers import VersionMatch
from service.api.searchset import parse_search
from service.errors import BadRequest, Gone, NotFound
from service.settings import Settings
from service.store.dates import MAX_TIME, MIN_TIME, InvalidDate, date_range
from service.store.db import Store
from service.store.model import Caller, HistoryPage
from service.store.repository import Repository

Ref = tuple[str, str]


async def current_version(repo: Repository, ref: Ref) -> int | None:
    """The live version, or None when the resource is absent or deleted."""
    try:
        return (await repo.read(*ref)).version_id
    except (NotFound, Gone):
        return None


async def expected_in(repo: Repository, ref: Ref, match: VersionMatch | None) -> int | None:
    """The version a write must find (the store checks it under its row lock). `*` or a
    list: the current version is read first; the write then checks that exact version, so
    a change in between is a 412, never a lost update."""
    if match is None or match.single is not None:
        return None if match is None else match.single
    return match.expected(f"{ref[0]}/{ref[1]}", await current_version(repo, ref))


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """`_since` (versions updated at or after it) and each `_at` (versions that were current
    at some point in its period, http.html#history), as the store applies them; `pairs`
    as the request gave them, for the paging links."""

    since: datetime | None = None
    at: tuple[tuple[datetime, datetime], ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()


_AT_PREFIXES = ("eq", "ge", "gt", "le", "lt")


def parse_history_filter(params: Iterable[tuple[str, str]]) -> HistoryFilter:
    """`_since` (an instant; the last one given counts) and `_at` (a date, dateTime or
    instant, optionally prefixed eq/ge/gt/le/lt; several are ANDed) from the query."""
    pairs = tuple((k, v) for k, v in params if k in ("_since", "_at"))
    since_values = [v for k, v in pairs if k == "_since"]
    since = None
    if since_values:
        try:
            since = date_range(since_values[-1])[0]
        except InvalidDate:
            raise BadRequest.of(f"_since {since_values[-1]!r} is not a valid instant",
                                code="value") from None
    at = tuple(_at_period(v) for k, v in pairs if k == "_at")
    return HistoryFilter(since, at, pairs)


def _at_period(value: str) -> tuple[datetime, datetime]:
    """The period [from, to) an `_at` value names: `2026-11` the month, `ge2026-11` from its
    start on, `lt2026-11` before it."""
    prefix = value[:2] if value[:2].isalpha() else "eq"
    text = value[2:] if value[:2].isalpha() else value
    try:
        if prefix not in _AT_PREFIXES:
            raise InvalidDate(value)
        low, high = date_range(text)
    except InvalidDate:
        raise BadRequest.of(f"_at {value!r} is not a valid date, dateTime or instant (with an "
                            "optional eq, ge, gt, le or lt prefix)", code="value") from None
    return {"eq": (low, high), "ge": (low, MAX_TIME), "gt": (high, MAX_TIME),
            "le": (MIN_TIME, high), "lt": (MIN_TIME, low)}[prefix]


def paging(pairs: Iterable[tuple[str, str]], settings: Settings) -> tuple[int, int]:
    """(`_count`, `_offset`) of a history request, as a search reads them."""
    query = parse_search(
        "history", [(k, v) for k, v in pairs if k in ("_count", "_offset")], (),
        default_count=settings.default_page_size, max_count=settings.max_page_size,
    ).query
    return query.count, query.offset


def history_path(resource_type: str | None, rid: str | None) -> str:
    """`_history`, `Type/_history` or `Type/id/_history`: the path of the paging links."""
    return "/".join(p for p in (resource_type, rid, "_history") if p)


async def history(
    store: Store, caller: Caller, resource_type: str | None, rid: str | None,
    page: tuple[int, int], wanted: HistoryFilter,
) -> HistoryPage:
    async with store.begin(caller, readonly=True) as repo:
        return await history_in(repo, resource_type, rid, page, wanted)


async def history_in(
    repo: Repository, resource_type: str | None, rid: str | None, page: tuple[int, int],
    wanted: HistoryFilter,
) -> HistoryPage:
    """Every version (newest first, deletions included) that `wanted` lets through: of one
    resource (`rid`), of a type's resources, or of every type's (`resource_type` None),
    those the caller may read. `_at` on a type's or the system's history is 400
    `not-supported` (not ignored: that would widen the answer): each version's period
    needs its successor, a subquery per row over the whole history; `_since` is what a
    sync client pages with."""
    count, offset = page
    if rid is not None and resource_type is not None:
        return await repo.history(resource_type, rid, count, offset, since=wanted.since,
                                  at=wanted.at)
    if wanted.at:
        raise BadRequest.of("_at is supported on one resource's history only; use _since "
                            "on a type's or the system's history", code="not-supported")
    return await repo.all_history(resource_type, count, offset, since=wanted.since)
