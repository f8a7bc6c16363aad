"""The gate to the database: one Repository per transaction, bound to one Caller.

Every statement carries the caller's visibility (`_visible`): SYSTEM sees everything; a
caller acting for organisations sees only resources with an organisation row among them,
and anything else is NotFound, exactly as if it were absent (Medplum, Polar).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Row,
    String,
    Table,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from service.errors import Gone, NotFound, PreconditionFailed
from service.store import claims, pg_reads, pg_writes, search, writes
from service.store.errors import ClaimTaken, StaleRead
from service.store.model import (
    Caller,
    HistoryPage,
    NewResource,
    SearchPage,
    SearchQuery,
    StoredResource,
    Updated,
)
from service.store.read_cache import ReadCache
from service.store.rows import deleted_rows, version_rows
from service.store.tables import conditional_claims, resource_history, resource_orgs, resources

__all__ = ["ClaimTaken", "Repository"]

_CURRENT = (resources.c.version_id, resources.c.deleted)
# Advisory locks of conditional keys (`Repository.serialise_claims`): (class, -1) for the
# class, (class, bucket) per key, the bucket a hash of the key.
_LOCK_CLASS, _LOCK_BUCKETS, _KEYS_LOCKED_ONE_BY_ONE = 7411, 256, 32
_LOCK_CLASS_SQL = text(f"SELECT pg_advisory_xact_lock({_LOCK_CLASS}, -1)")
_LOCK_CLASS_SHARED_SQL = text(f"SELECT pg_advisory_xact_lock_shared({_LOCK_CLASS}, -1)")
_LOCK_BUCKETS_SQL = text(f"""
SELECT pg_advisory_xact_lock({_LOCK_CLASS}, b) FROM (
    SELECT DISTINCT hashtext(k) & {_LOCK_BUCKETS - 1} AS b
    FROM unnest(CAST(:keys AS text[])) AS k
) AS buckets ORDER BY b
""")
_TRY_LOCK_SQL = text(
    f"SELECT pg_try_advisory_xact_lock_shared({_LOCK_CLASS}, -1)"
    f" AND pg_try_advisory_xact_lock({_LOCK_CLASS}, hashtext(:key) & {_LOCK_BUCKETS - 1})"
)


class Repository:
    def __init__(
        self,
        conn: AsyncConnection,
        caller: Caller,
        now: datetime | None = None,
        autocommit_driver: Any = None,
        read_cache: ReadCache | None = None,
        relied: list[tuple[str, str, int]] | None = None,
    ) -> None:
        """`autocommit_driver`: the raw asyncpg connection of an autocommit `conn`, given
        only by `Store.one_shot`: reads and the single-statement create go straight to
        asyncpg, and writes that need a transaction (update, delete) are refused.
        `read_cache` (one-shot only): SYSTEM reads by id may come from it; `relied`
        collects the versions so used, which the create statement checks (read_cache.py)."""
        self._conn, self._caller, self._direct = conn, caller, autocommit_driver
        self._cache = read_cache if autocommit_driver is not None else None
        self._relied: list[tuple[str, str, int]] = [] if relied is None else relied
        self._all_claims_locked = False  # serialise_claims took the class lock, exclusive
        moment = now or datetime.now(UTC)
        # Milliseconds, so the column and meta.lastUpdated say the same instant.
        self.now = moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    @property
    def caller(self) -> Caller:
        return self._caller

    def as_caller(self, caller: Caller) -> Repository:
        """The same connection (and transaction or one-shot mode, and `now`) for `caller`."""
        return Repository(
            self._conn, caller, now=self.now, autocommit_driver=self._direct,
            read_cache=self._cache, relied=self._relied,
        )

    @property
    def connection(self) -> AsyncConnection:
        """The transaction's connection, for store modules that write beside the resources
        in the same transaction (the outbox, deadlines). Never for SQL outside service/store."""
        return self._conn

    async def create_many(self, items: Sequence[NewResource]) -> list[StoredResource]:
        batch = [
            version_rows(i.content, i.id, 1, self.now, i.orgs, i.claim_key) for i in items
        ]
        if batch and self._direct is not None:
            written = await pg_writes.insert_versions_direct(self._direct, batch, self._relied)
            if not written:
                if self._cache is not None:
                    self._cache.drop((t, i) for t, i, _ in self._relied)
                raise StaleRead()
        elif batch:
            await writes.insert_versions(self._conn, batch)
        return [rows.stored for rows in batch]

    async def read(self, resource_type: str, id: str) -> StoredResource:
        stored = await self._read_current(resource_type, id)
        if stored is None:
            raise _not_found(resource_type, id)
        if stored.deleted:
            raise _gone(stored)
        return stored

    async def _read_current(self, resource_type: str, id: str) -> StoredResource | None:
        if self._direct is not None:
            cache = self._cache if self._caller.org_refs is None else None
            if cache is not None and (cached := cache.get(resource_type, id)) is not None:
                self._relied.append((resource_type, id, cached.version_id))
                return cached
            stored = await pg_reads.read_current(
                self._direct, resource_type, id, self._caller.org_refs
            )
            if cache is not None and stored is not None:
                cache.put(stored)
            return stored
        row = (await self._conn.execute(self._select(resources, resource_type, id))).first()
        return None if row is None else _stored(row)

    async def vread(self, resource_type: str, id: str, version: int) -> StoredResource:
        statement = self._select(resource_history, resource_type, id).where(
            resource_history.c.version_id == version
        )
        row = (await self._conn.execute(statement)).first()
        if row is None:
            raise NotFound.of(f"{resource_type}/{id}/_history/{version} is not known")
        stored = _stored(row)
        if stored.deleted:
            raise _gone(stored)
        return stored

    async def update(
        self,
        resource_type: str,
        id: str,
        content: dict[str, Any],
        orgs: frozenset[str],
        expected_version: int | None = None,
    ) -> StoredResource:
        """The new current version (also after a deletion). The update frees the
        resource's conditional-create claims, not its identity claims (claims.py)."""
        done = await self.update_reporting(resource_type, id, content, orgs, expected_version)
        return done.stored

    async def update_reporting(
        self,
        resource_type: str,
        id: str,
        content: dict[str, Any],
        orgs: frozenset[str],
        expected_version: int | None = None,
        *,
        keep_orgs: bool = False,
    ) -> Updated:
        """`update`, also telling whether the replaced current version was a deletion
        (read from the row it locks: no second query). `keep_orgs`: the resource keeps the
        organisations it had (creator, grants) besides `orgs` (read after the lock, in this
        transaction); else its organisations become exactly `orgs`."""
        self._require_transaction()
        version, deleted = await self._lock_current(resource_type, id, expected_version)
        if keep_orgs:
            orgs = orgs | await self.current_orgs(resource_type, id)
        rows = version_rows(content, id, version + 1, self.now, orgs)
        await writes.replace_version(self._conn, rows, keep_orgs=False)
        await claims.drop_conditional_claims(self._conn, resource_type, id)
        return Updated(rows.stored, recreated=deleted)

    async def current_orgs(self, resource_type: str, id: str) -> frozenset[str]:
        """Every organisation row of a resource (whoever asks: the caller's isolation is
        applied by the read or lock that found the resource)."""
        o = resource_orgs.c
        statement = select(o.org_ref).where(o.resource_type == resource_type, o.resource_id == id)
        return frozenset(str(ref) for ref in (await self._conn.execute(statement)).scalars())

    async def delete(
        self, resource_type: str, id: str, expected_version: int | None = None
    ) -> StoredResource | None:
        """The deleted version, or None when the resource was already deleted."""
        self._require_transaction()
        version, deleted = await self._lock_current(resource_type, id, expected_version)
        if deleted:
            return None
        rows = deleted_rows(resource_type, id, version + 1, self.now)
        await writes.replace_version(self._conn, rows, keep_orgs=True)
        await writes.drop_claims(self._conn, resource_type, id)
        return rows.stored

    async def history(
        self, resource_type: str, id: str, count: int, offset: int,
        since: datetime | None = None, at: Sequence[tuple[datetime, datetime]] = (),
    ) -> HistoryPage:
        """Every version (updated at or after `since`; current at some point of each period
        [from, to) in `at`: it began before the period ends, and the next version, if any,
        began after the period starts), newest first; NotFound when the resource never
        existed."""
        h = resource_history.c
        every = self._select(resource_history, resource_type, id)
        base = _versions_between(every, since, at)
        total = await self._conn.scalar(select(func.count()).select_from(base.subquery())) or 0
        if not total and not await self._conn.scalar(select(every.exists())):
            raise _not_found(resource_type, id)
        page = base.order_by(h.version_id.desc()).limit(count).offset(offset)
        rows = (await self._conn.execute(page)).all()
        return HistoryPage(total, [_stored(row) for row in rows])

    async def all_history(
        self, resource_type: str | None, count: int, offset: int, since: datetime | None = None,
    ) -> HistoryPage:
        """Every version of every resource of `resource_type` (None: of every type) that the
        caller may read, updated at or after `since`, newest first (by `last_updated`, then
        type, id and version, so that a page is stable)."""
        h = resource_history.c
        every = select(*_columns(resource_history)).where(self._visible(h.resource_type, h.id))
        if resource_type is not None:
            every = every.where(h.resource_type == resource_type)
        base = _versions_between(every, since, ())
        total = await self._conn.scalar(select(func.count()).select_from(base.subquery())) or 0
        if not total or offset >= total:
            return HistoryPage(total)
        page = base.order_by(h.last_updated.desc(), h.resource_type, h.id,
                             h.version_id.desc()).limit(count).offset(offset)
        rows = (await self._conn.execute(page)).all()
        return HistoryPage(total, [_stored(row) for row in rows])

    async def search(self, query: SearchQuery, *, counted: bool = True) -> SearchPage:
        """A page of matches and their total; `counted=False` skips the count query (the
        page's `total` is then its own length: for callers that need the matches only)."""
        conditions = search.where(query, self._visible(resources.c.resource_type, resources.c.id))
        order = search.order_by(query)
        if counted:
            total = await self._conn.scalar(search.count_statement(conditions)) or 0
            if query.summary == "count" or query.offset >= total or query.count <= 0:
                return SearchPage(total)
        page = (
            select(*_columns(resources))
            .where(*conditions)
            .order_by(*order)
            .limit(query.count)
            .offset(query.offset)
        )
        items = [_stored(row) for row in (await self._conn.execute(page)).all()]
        return SearchPage(total if counted else len(items), items)

    async def serialise_claims(self, claims: Iterable[tuple[str, str]]) -> None:
        """Hold, until the transaction ends, the lock of each (resource type, conditional
        key): a conditional create or update searches and writes under it, so two with the
        same criteria run one after the other and the second finds what the first wrote
        (the claim row alone cannot tell it: an update drops it). PostgreSQL:
        transaction-level advisory locks. Up to `_KEYS_LOCKED_ONE_BY_ONE` keys: the class
        lock shared, then one lock per key's hash bucket, in bucket order (keys that share a
        bucket only wait for each other); more (a large Bundle): the class lock alone,
        exclusive, so its lock count stays bounded without holding most buckets. Every
        wait happens in these first statements, in that one order, before any row is
        locked, so two transactions never wait for each other crosswise here. SQLite
        serialises its writers already."""
        keys = sorted({f"{kind}?{key}" for kind, key in claims})
        if not keys or self._conn.dialect.name != "postgresql":
            return
        self._require_transaction()
        if len(keys) > _KEYS_LOCKED_ONE_BY_ONE:
            await self._conn.execute(_LOCK_CLASS_SQL)
            self._all_claims_locked = True
            return
        await self._conn.execute(_LOCK_CLASS_SHARED_SQL)
        await self._conn.execute(_LOCK_BUCKETS_SQL, {"keys": keys})

    async def try_serialise_claim(self, kind: str, key: str) -> bool:
        """`serialise_claims` for one more key, without waiting (a key known only once the
        transaction has searched): False when another transaction holds its lock, and
        the caller must start again with the key among those locked up front."""
        if self._conn.dialect.name != "postgresql" or self._all_claims_locked:
            return True
        self._require_transaction()
        return bool(await self._conn.scalar(_TRY_LOCK_SQL, {"key": f"{kind}?{key}"}))

    async def lock_rows(self, refs: Iterable[tuple[str, str]]) -> None:
        """Lock the current rows of the resources this transaction is about to change, in
        one statement in (type, id) order (PostgreSQL), before any of them is written: two
        transactions that change the same rows in other orders (Bundles of PUTs) then
        queue instead of deadlocking. The writes lock each row again, which is free."""
        wanted = sorted(set(refs))
        if len(wanted) < 2 or self._conn.dialect.name != "postgresql":
            return
        self._require_transaction()
        r = resources.c
        # the (type, id) pairs as two array parameters: any number of them in one statement
        pairs = select(
            func.unnest(bindparam("types", [t for t, _ in wanted], type_=ARRAY(String))).label("t"),
            func.unnest(bindparam("ids", [i for _, i in wanted], type_=ARRAY(String))).label("i"),
        ).subquery()
        statement = (
            select(r.id)
            .join(pairs, (r.resource_type == pairs.c.t) & (r.id == pairs.c.i))
            .where(self._visible(r.resource_type, r.id))
            .order_by(r.resource_type, r.id)
            .with_for_update(of=resources)
        )
        await self._conn.execute(statement)

    async def find_claim(self, resource_type: str, key: str) -> StoredResource | None:
        """The live resource holding a conditional-create key, if the caller may see it."""
        c = conditional_claims.c
        statement = (
            select(*_columns(resources))
            .join(
                conditional_claims,
                (c.resource_type == resources.c.resource_type) & (c.resource_id == resources.c.id),
            )
            .where(c.resource_type == resource_type, c.claim_key == key)
            .where(resources.c.deleted.is_(False))
            .where(self._visible(resources.c.resource_type, resources.c.id))
        )
        row = (await self._conn.execute(statement)).first()
        return None if row is None else _stored(row)

    def _require_transaction(self) -> None:
        if self._direct is not None:
            raise RuntimeError("a one-shot repository writes only one create_many")

    def _visible(self, type_col: Any, id_col: Any) -> ColumnElement[bool]:
        """The caller's isolation predicate for rows keyed by (type_col, id_col)."""
        if self._caller.org_refs is None:
            return true()
        o = resource_orgs.c
        return exists().where(
            o.resource_type == type_col,
            o.resource_id == id_col,
            o.org_ref.in_(sorted(self._caller.org_refs)),
        )

    def _select(self, table: Table, resource_type: str, id: str) -> Any:
        t = table.c
        return (
            select(*_columns(table))
            .where(t.resource_type == resource_type, t.id == id)
            .where(self._visible(t.resource_type, t.id))
        )

    async def _lock_current(
        self, resource_type: str, id: str, expected_version: int | None
    ) -> tuple[int, bool]:
        """(version, deleted) of the current row, locked until the transaction ends."""
        r = resources.c
        statement = (
            select(*_CURRENT)
            .where(r.resource_type == resource_type, r.id == id)
            .where(self._visible(r.resource_type, r.id))
            .with_for_update()
        )
        row = (await self._conn.execute(statement)).first()
        if row is None:
            raise _not_found(resource_type, id)
        if expected_version is not None and expected_version != row.version_id:
            raise PreconditionFailed.of(
                f"{resource_type}/{id} is at version {row.version_id}, not {expected_version}"
            )
        return int(row.version_id), bool(row.deleted)


def _versions_between(
    versions: Any, since: datetime | None, at: Sequence[tuple[datetime, datetime]]
) -> Any:
    """`versions` (a select of history rows) updated at or after `since`, and current at
    some point of each period [from, to) in `at`: begun before it ends, and the next
    version, if any, begun after it starts."""
    h = resource_history.c
    base = versions if since is None else versions.where(h.last_updated >= since)
    if at:
        later = resource_history.alias("later")
        ended = (select(func.min(later.c.last_updated))
                 .where(later.c.resource_type == h.resource_type, later.c.id == h.id,
                        later.c.version_id > h.version_id)
                 .scalar_subquery())
        for start, end in at:
            base = base.where(h.last_updated < end, or_(ended.is_(None), ended > start))
    return base


def _columns(table: Table) -> tuple[Any, ...]:
    t = table.c
    return (t.resource_type, t.id, t.version_id, t.last_updated, t.deleted, t.content)


def _stored(row: Row[Any]) -> StoredResource:
    return StoredResource(
        row.resource_type, row.id, row.version_id, row.last_updated, row.content, row.deleted
    )


def _not_found(resource_type: str, id: str) -> NotFound:
    return NotFound(*NotFound.of(f"{resource_type}/{id} is not known").issues)


def _gone(stored: StoredResource) -> Gone:
    return Gone(*Gone.of(f"{stored.ref} was deleted at version {stored.version_id}").issues)
