"""A Redis that stopped answering costs one time limit, not one per call.

Every Redis call is bounded (``REDIS_TIMEOUT_MS``), but one child's turn makes several calls in a
row (the handoff lookup, the conversation, the statistics...), and a frozen Redis would charge
each of them the full limit: a second or more before the fail-safe reply. So the process's
connection pools share one guard. A connection that is refused or breaks marks Redis down; while
it is down, every call fails at once (:class:`RedisDown`, a redis ``ConnectionError``, so callers'
fault handling is unchanged), and once every ``retry_after_s`` one call is let through to try
again. The first answer Redis gives (an error reply counts: Redis is there) marks it up, and the
bot carries on without a restart.

Only a refused connection is proof. A time limit that runs out may be this process's own doing
(an event loop busy for longer than the limit, with start-up work or a slow turn, fires a call's
timer before its answer is seen), and a connection that breaks may have been closed while idle (by
Redis's ``timeout`` or a proxy). So these make the guard ask Redis once more (``probe``: a PING on
a connection of its own, with a longer time limit), and only a probe that fails too marks Redis
down. Meanwhile calls go to Redis as usual: failing them at once would turn a moment of a busy
process (a burst of webhooks) into fail-safe replies for every child of that moment. A frozen
Redis thus costs the calls of its first second up to their own time limit; a busy process or a
stale connection costs the calls that did time out, not every call for a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 1.0  # while Redis is down, how often one call tries it again
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


class RedisDown(RedisConnectionError):
    """Refused without trying: Redis failed moments ago and it is not yet time to try again."""


class RedisGuard:
    """Whether this process's Redis answers (see the module's docstring)."""

    def __init__(
        self,
        probe: Optional[Callable[[], Awaitable[object]]] = None,
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``probe``: asks Redis after a timeout, raising if it does not answer (without one, a
        timeout marks Redis down at once)."""
        self._probe, self._retry_after_s, self._clock = probe, retry_after_s, clock
        self._down_since: Optional[float] = None
        self._next_try = 0.0
        self._probing: Optional[asyncio.Task[None]] = None
        self.outages = 0  # how many times Redis went down since the process started

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def admit(self) -> None:
        """Let a call go to Redis, or raise :class:`RedisDown` at once while it is down. One call
        per ``retry_after_s`` goes through all the same, to find out whether Redis is back."""
        if self._down_since is None:
            return
        now = self._clock()
        if now < self._next_try:
            raise RedisDown("Redis failed moments ago; trying again shortly")
        self._next_try = now + self._retry_after_s  # this call is the try; the others keep failing fast

    def failed(self, error: BaseException, refused: bool = False) -> None:
        """A connection was ``refused``, broke or timed out (then Redis is asked once more first)."""
        if not refused and self._down_since is None and self._probe is not None:
            if self._probing is None or self._probing.done():
                self._probing = asyncio.get_running_loop().create_task(self._confirm())
            return
        self._mark_down(error)

    async def _confirm(self) -> None:
        assert self._probe is not None
        try:
            await self._probe()
        except (*_UNREACHABLE, OSError) as error:
            self._mark_down(error)
        else:
            logger.warning("a Redis call timed out, but Redis answers: this process was busy, Redis is up")

    def _mark_down(self, error: BaseException) -> None:
        now = self._clock()
        self._next_try = now + self._retry_after_s
        if self._down_since is None:
            self._down_since = now
            self.outages += 1
            logger.error(
                "Redis unreachable (%s): its calls fail at once, one try every %.1f s until it answers",
                type(error).__name__,
                self._retry_after_s,
            )

    def answered(self) -> None:
        """Redis answered a command: it is up."""
        if self._down_since is not None:
            logger.warning("Redis answers again after %.1f s down", self._clock() - self._down_since)
            self._down_since = None


class _Guarded:
    """Mixed into redis-py's connection classes: reports to the pool's guard how each connection
    and each answer went. Cancellation (a web page that went away) says nothing about Redis.

    A connection opened before Redis last went down is reopened when it is next taken from the
    pool: a restarted Redis has closed it, and each such connection would otherwise fail once
    more and mark Redis down again, a second each time, long after it came back."""

    guard: RedisGuard

    def __init__(self, *args: Any, guard: RedisGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard
        self._opened_after = guard.outages  # how many outages there had been when it was opened

    async def connect(self) -> None:
        if self.is_connected and self._opened_after != self.guard.outages:  # type: ignore[attr-defined]
            await self.disconnect()  # type: ignore[attr-defined]
        try:
            await super().connect()  # type: ignore[misc]
        except _UNREACHABLE as error:
            self.guard.failed(error, refused=not isinstance(error, RedisTimeoutError))
            raise
        self._opened_after = self.guard.outages

    async def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().send_packed_command(*args, **kwargs)  # type: ignore[misc]
        except _UNREACHABLE as error:
            self.guard.failed(error)
            raise

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = await super().read_response(*args, **kwargs)  # type: ignore[misc]
        except _UNREACHABLE as error:
            self.guard.failed(error)
            raise
        except Exception:
            self.guard.answered()  # an error reply (NOSCRIPT, WRONGTYPE...): Redis is there
            raise
        if response is not None or kwargs.get("timeout") is None:  # None after a wait the caller set: no answer
            self.guard.answered()
        return response


_GUARDED: dict[type[aioredis.Connection], type[aioredis.Connection]] = {}


def _guarded(connection_class: type[aioredis.Connection]) -> type[aioredis.Connection]:
    """``connection_class`` (plain, TLS or Unix socket, as the URL says) reporting to a guard."""
    if connection_class not in _GUARDED:
        _GUARDED[connection_class] = type(f"Guarded{connection_class.__name__}", (_Guarded, connection_class), {})
    return _GUARDED[connection_class]


if TYPE_CHECKING:
    _Pool = aioredis.BlockingConnectionPool[aioredis.Connection]
else:
    _Pool = aioredis.BlockingConnectionPool


class GuardedPool(_Pool):
    """redis-py's bounded pool whose connections report to ``guard``, and which refuses at once
    while ``guard`` says Redis is down."""

    def __init__(
        self, guard: RedisGuard, connection_class: type[aioredis.Connection] = aioredis.Connection, **kwargs: Any
    ) -> None:
        super().__init__(connection_class=_guarded(connection_class), guard=guard, **kwargs)
        self.guard = guard

    async def get_connection(self, command_name: Any, *keys: Any, **options: Any) -> aioredis.Connection:
        self.guard.admit()
        return await super().get_connection(command_name, *keys, **options)
