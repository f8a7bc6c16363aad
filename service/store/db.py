"""Engines and transactions. `Store` owns the engine; `store.begin(caller)` yields a
Repository on one connection in one transaction (commit on success, rollback on error).

SQLite (embedded): WAL, busy_timeout, foreign keys, synchronous=FULL, and writers take the
write lock up front (BEGIN IMMEDIATE), so concurrent writers queue on busy_timeout instead
of failing with "database is locked" when a read lock cannot be upgraded.
PostgreSQL (production): asyncpg, a pool sized for one uvicorn worker, JSONB via orjson.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar, cast

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from service.store.direct_pool import DirectPool, Lease
from service.store.errors import DEADLOCK_RETRIES, Deadlocked, is_deadlock
from service.store.model import Caller, NewResource, StoredResource
from service.store.read_cache import ReadCache
from service.store.repository import Repository
from service.store.sqltypes import dumps

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
_BEGIN_OPTION = "chiroref_sqlite_begin"
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=FULL",
)


def make_engine(url: str) -> AsyncEngine:
    """An async engine for a sqlite+aiosqlite or postgresql+asyncpg URL."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        return _postgres_engine(url)
    raise ValueError(f"unsupported database URL scheme: {backend}")


_PG_POOL_SIZE, _PG_OVERFLOW = 10, 5
_PG_SERVER_SETTINGS = {"application_name": "chiroref", "jit": "off"}
_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def _ssl_mode(value: str) -> str:
    if value not in _SSL_MODES:
        raise ValueError(f"one of {', '.join(_SSL_MODES)}")
    return value


def _flag(value: str) -> bool:
    if value.lower() in ("true", "1", "yes", "on"):
        return True
    if value.lower() in ("false", "0", "no", "off"):
        return False
    raise ValueError("true or false")


# The query options of a postgresql+asyncpg URL: SQLAlchemy's asyncpg dialect passes each
# one to asyncpg.connect as a keyword argument (an unknown one fails there with a
# TypeError; nothing becomes a server setting), except `prepared_statement_cache_size`,
# its own statement cache, which the direct pool maps to asyncpg's `statement_cache_size`.
# name in the URL -> (keyword of asyncpg.connect for the direct pool, value parser).
# `host` is not here: repeated `host=h:p` options (multi-host) go to the dialect's parser.
PG_URL_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "ssl": ("ssl", _ssl_mode),
    "direct_tls": ("direct_tls", _flag),
    "prepared_statement_cache_size": ("statement_cache_size", int),
    "command_timeout": ("command_timeout", float),
    "timeout": ("timeout", float),
    "target_session_attrs": ("target_session_attrs", str),
    "passfile": ("passfile", str),
    "krbsrvname": ("krbsrvname", str),
    "gsslib": ("gsslib", str),
}


_EXPECTED: dict[Callable[[str], Any], str] = {int: "an integer", float: "a number"}


def _pg_options(url: URL) -> dict[str, Any]:
    """The URL's query options, parsed (name in the URL -> value); anything else is
    refused here, at start-up, with the option's name (never the URL: it holds the
    password)."""
    options: dict[str, Any] = {}
    for name, raw in url.query.items():
        if name == "host":
            continue
        if name not in PG_URL_OPTIONS:
            raise ValueError(
                f"unsupported option {name!r} in the PostgreSQL database URL; "
                f"supported: host, {', '.join(sorted(PG_URL_OPTIONS))}"
            )
        if not isinstance(raw, str):
            raise ValueError(f"option {name!r} given more than once in the database URL")
        parse = PG_URL_OPTIONS[name][1]
        try:
            options[name] = parse(raw)
        except ValueError as exc:
            expected = _EXPECTED.get(parse, str(exc))
            raise ValueError(
                f"option {name!r} of the database URL must be {expected}, not {raw!r}"
            ) from None
    return options


def asyncpg_connect_args(url: str) -> dict[str, Any]:
    """Keyword arguments for asyncpg.connect / create_pool that reach the database the
    SQLAlchemy engine of `url` reaches: host(s), port(s), user, password and database as
    the asyncpg dialect reads them, and the URL's options mapped (`PG_URL_OPTIONS`)."""
    parsed = make_url(url)
    options = _pg_options(parsed)
    only_hosts = parsed.difference_update_query(options)
    _, args = PGDialect_asyncpg().create_connect_args(only_hosts)
    args.update({PG_URL_OPTIONS[name][0]: value for name, value in options.items()})
    return cast(dict[str, Any], args)


def _postgres_engine(url: str) -> AsyncEngine:
    # The parsed options override the strings the dialect would pass for them.
    options = _pg_options(make_url(url))
    return create_async_engine(
        url,
        pool_size=_PG_POOL_SIZE,
        max_overflow=_PG_OVERFLOW,
        pool_recycle=1800,
        json_serializer=dumps,
        json_deserializer=orjson.loads,
        connect_args={**options, "server_settings": _PG_SERVER_SETTINGS},
    )


DirectListener = Callable[[Any], None]


async def _direct_pool(url: str, listeners: list[DirectListener]) -> DirectPool:
    """The connections of `Store.one_shot` (PostgreSQL), as many as the engine may open.
    Autocommit, no session state: nothing to reset between users (direct_pool.py). One is
    opened now, so a database that refuses them fails at start-up."""
    args = asyncpg_connect_args(url)

    async def connect() -> Any:
        conn = await asyncpg.connect(**args, server_settings=_PG_SERVER_SETTINGS)
        try:
            for kind in ("json", "jsonb"):
                await conn.set_type_codec(
                    kind, schema="pg_catalog", encoder=dumps, decoder=orjson.loads,
                    format="text",
                )
        except BaseException:
            conn.terminate()
            raise
        return conn

    pool = DirectPool(connect, _PG_POOL_SIZE + _PG_OVERFLOW, listeners=listeners)
    async with pool.connection():
        pass
    return pool


class _NoConnection:
    """The SQLAlchemy connection a one-shot Repository does not have: only its raw asyncpg
    paths (reads by id, `create_many`) run there; anything else is a programming error."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"a one-shot Repository has no SQLAlchemy connection ({name})")


_NO_CONNECTION = cast(AsyncConnection, _NoConnection())


def _sqlite_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=5, max_overflow=5)
    event.listen(engine.sync_engine, "connect", _sqlite_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN IMMEDIATE"))


class Store:
    def __init__(
        self,
        engine: AsyncEngine,
        direct_pool: DirectPool | None = None,
        direct_listeners: list[DirectListener] | None = None,
    ) -> None:
        self._engine, self._direct_pool = engine, direct_pool
        # One-shot creates' SYSTEM reads, checked by the create statement (read_cache.py).
        self.read_cache = ReadCache()
        # Called with each raw asyncpg connection `one_shot` checks out (tests watch the
        # statements the hot path sends).
        self.direct_listeners: list[DirectListener] = (
            direct_listeners if direct_listeners is not None else []
        )

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect (failing now, not on the first request, when the database is away)."""
        engine = make_engine(url)
        listeners: list[DirectListener] = []
        try:
            async with engine.connect():
                pass
            if engine.dialect.name != "postgresql":
                return cls(engine)
            pool = await _direct_pool(url, listeners)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, pool, listeners)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @asynccontextmanager
    async def begin(self, caller: Caller, *, readonly: bool = False) -> AsyncIterator[Repository]:
        """One transaction. `readonly` lets SQLite readers skip the write lock (a write in
        a readonly transaction may then fail with "database is locked")."""
        try:
            async with self._engine.connect() as conn:
                if readonly and self.dialect == "sqlite":
                    await conn.execution_options(**{_BEGIN_OPTION: "BEGIN DEFERRED"})
                async with conn.begin():
                    yield Repository(conn, caller)
        except DBAPIError as exc:
            if is_deadlock(exc.orig):
                raise Deadlocked() from exc
            raise

    async def transact(
        self, caller: Caller, work: Callable[[Repository], Awaitable[T]], *,
        one_shot: bool = False, cached: bool = True,
    ) -> T:
        """`work` in one transaction (`begin`), or with `one_shot` in `one_shot` (reads,
        then one atomic statement); run again when PostgreSQL ends it to break a deadlock
        (it was rolled back: nothing of that run stays), at most DEADLOCK_RETRIES times;
        then the Deadlocked (409 lock-error) is the answer. Every write goes through here:
        the rows a workflow changes (the Task a feedback report completes, a reroute) are
        not all locked up front, nor are a Bundle's claims."""
        runs = 0
        while True:
            try:
                context = self.one_shot(caller, cached=cached) if one_shot else self.begin(caller)
                async with context as repo:
                    return await work(repo)
            except Deadlocked:
                runs += 1
                if runs > DEADLOCK_RETRIES:
                    raise

    def one_shot(
        self, caller: Caller, *, cached: bool = True
    ) -> AbstractAsyncContextManager[Repository]:
        """A Repository for reads followed by ONE `create_many`, the intake hot path.

        On PostgreSQL there is no transaction: a connection of the plain asyncpg pool
        (autocommit, no SQLAlchemy checkout) runs its reads and the single create
        statement (atomic by itself), so a create is its reads plus one round trip,
        without BEGIN/COMMIT exchanges. Its
        reads see what is committed when each runs, as they would in a READ COMMITTED
        transaction. `update` and `delete` are refused there (they need `begin`).
        Elsewhere (SQLite) it is `begin`.

        SYSTEM reads by id may come from `read_cache` (unless `cached` is False); then the
        create writes nothing when one of them is out of date and `create_many` raises
        StaleRead: run the create again (with `cached=False` it cannot happen again).
        """
        if self._direct_pool is None:
            return self.begin(caller)
        return _OneShot(self._direct_pool.connection(), caller,
                        self.read_cache if cached else None)

    async def create_many(
        self, caller: Caller, items: Sequence[NewResource]
    ) -> list[StoredResource]:
        """`repo.create_many(items)` on its own: ONE round trip on PostgreSQL (`one_shot`).
        Raises ClaimTaken like the repository, with nothing written."""
        async with self.one_shot(caller) as repo:
            return await repo.create_many(items)

    async def close(self) -> None:
        """Close the direct pool and dispose of the engine, the engine even when closing
        the pool fails (that error is raised afterwards)."""
        try:
            if self._direct_pool is not None:
                await self._direct_pool.close()
        finally:
            await self._engine.dispose()


class _OneShot:
    """`Store.one_shot` on PostgreSQL: a Repository over one leased connection (a class,
    not an `asynccontextmanager` generator: the intake hot path enters one per create)."""

    __slots__ = ("_cache", "_caller", "_lease")

    def __init__(self, lease: Lease, caller: Caller, cache: ReadCache | None) -> None:
        self._lease, self._caller, self._cache = lease, caller, cache

    async def __aenter__(self) -> Repository:
        driver = await self._lease.__aenter__()
        try:
            return Repository(
                _NO_CONNECTION, self._caller, autocommit_driver=driver, read_cache=self._cache
            )
        except BaseException as exc:  # the lease goes back, as an `async with` body's would
            await self._lease.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        await self._lease.__aexit__(exc_type, exc, tb)
        if is_deadlock(exc):  # as `begin` reports it
            raise Deadlocked() from exc
