"""The connections of `Store.one_shot`: plain asyncpg connections for one statement at a
time, in autocommit, handed out without asyncpg's Pool.

asyncpg's Pool suits transactions: it resets each released connection, wraps it in a
proxy, and returns it through `asyncio.shield` (one Task per release). A one-shot user
sends a single statement and opens no transaction, so none of that has work to do, yet it
cost ~14% of a referral create's CPU (docs/performance.md, round 4). This pool keeps only
what one-shot use needs: a bounded number of connections opened on demand, waiters served
first come first served, and a connection that ended in anything but a normal answer from
the server (cancelled, dropped, left in a transaction) closed instead of reused.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]

Connect = Callable[[], Awaitable[Any]]
Listener = Callable[[Any], None]


class Lease:
    """`async with pool.connection() as conn`: a class, not an `asynccontextmanager`
    generator, as the intake hot path enters one per create."""

    __slots__ = ("_conn", "_pool")

    def __init__(self, pool: DirectPool) -> None:
        self._pool, self._conn = pool, None

    async def __aenter__(self) -> Any:
        self._conn = await self._pool._acquire()
        return self._conn

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        reusable = exc_type is None or issubclass(exc_type, asyncpg.PostgresError)
        self._pool._release(self._conn, reusable)


class DirectPool:
    def __init__(
        self,
        connect: Connect,
        max_size: int,
        *,
        max_idle_seconds: float = 1800.0,
        listeners: list[Listener] | None = None,
    ) -> None:
        """`connect` opens one ready connection (codecs and settings applied);
        `listeners` are called with each connection handed out (tests watch statements)."""
        self._connect, self._max_size, self._max_idle = connect, max_size, max_idle_seconds
        self._listeners = listeners if listeners is not None else []
        self._idle: list[tuple[Any, float]] = []  # (connection, when it was returned)
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._open = 0  # connections open or being opened
        self._closing = False

    @property
    def size(self) -> int:
        """Connections open (or being opened)."""
        return self._open

    @property
    def waiting(self) -> int:
        """Users waiting for a connection."""
        return sum(not w.done() for w in self._waiters)

    def connection(self) -> Lease:
        """A connection for an `async with` block. It returns to the pool when the block
        ends normally or with an error the server reported (the connection is then idle
        again); otherwise it is closed."""
        return Lease(self)

    async def _acquire(self) -> Any:
        if self._closing:
            raise RuntimeError("the database pool is closed")
        now = time.monotonic()
        while self._idle:
            conn, since = self._idle.pop()
            if now - since <= self._max_idle and not conn.is_closed():
                return self._hand_out(conn)
            self._discard(conn)
        if self._open < self._max_size:
            return self._hand_out(await self._open_one())
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            conn = await waiter
        except asyncio.CancelledError:
            handed = waiter.result() if waiter.done() and not waiter.cancelled() else None
            if handed is not None:  # given to us as we were being cancelled: pass it on
                self._release(handed, True)
            elif waiter.done() and not waiter.cancelled():
                self._wake_one(None)  # the right to open one, likewise
            raise
        return self._hand_out(await self._open_one() if conn is None else conn)

    async def _open_one(self) -> Any:
        self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._open -= 1
            self._wake_one(None)
            raise

    def _hand_out(self, conn: Any) -> Any:
        for listener in self._listeners:
            listener(conn)
        return conn

    def _release(self, conn: Any, reusable: bool) -> None:
        if self._closing or not reusable or conn.is_closed() or conn.is_in_transaction():
            self._discard(conn)
            self._wake_one(None)  # a waiter may open a connection in its place
        elif not self._wake_one(conn):
            self._idle.append((conn, time.monotonic()))

    def _wake_one(self, conn: Any) -> bool:
        """Give `conn` (None: the right to open one) to the first waiter still waiting."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)  # None: the waiter opens one (counted then)
                return True
        return False

    def _discard(self, conn: Any) -> None:
        self._open -= 1
        conn.terminate()

    async def close(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        self._closing = True
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._open -= 1
            try:
                await asyncio.wait_for(conn.close(), timeout=10)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                conn.terminate()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(RuntimeError("the database pool is closed"))
        self._waiters.clear()
