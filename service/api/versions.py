"""Version-aware interactions beside `interactions.py`: history `_since` and `If-Match`
with `*` or a list of ETags (RFC 9110 13.1.1). (An update that re-created a deleted
resource, 201 as HAPI answers, is told by `Repository.update_reporting` itself.)"""

from __future__ import annotations

from datetime import datetime

from service.api.headers import VersionMatch
from service.errors import BadRequest, Gone, NotFound
from service.store.dates import InvalidDate, date_range
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


async def expected_version(
    store: Store, caller: Caller, ref: Ref, match: VersionMatch | None
) -> int | None:
    """`expected_in` for a REST write, reading (when needed) in its own transaction."""
    if match is None or match.single is not None:
        return None if match is None else match.single
    async with store.begin(caller, readonly=True) as repo:
        return await expected_in(repo, ref, match)


def parse_since(values: list[str]) -> datetime | None:
    """`_since` (an instant): versions last updated at or after it."""
    if not values:
        return None
    try:
        return date_range(values[-1])[0]
    except InvalidDate:
        raise BadRequest.of(f"_since {values[-1]!r} is not a valid instant", code="value") from None


async def history(
    store: Store, caller: Caller, ref: Ref, page: tuple[int, int], since: datetime | None
) -> HistoryPage:
    """Every version (newest first, deletions included) updated since `since`."""
    async with store.begin(caller, readonly=True) as repo:
        return await repo.history(ref[0], ref[1], page[0], page[1], since=since)
