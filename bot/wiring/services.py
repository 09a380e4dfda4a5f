"""The one place where the bot's services are built: each once per process, from one Settings.

Channels, the custom action, the console and the command-line tools ask :func:`services` (or a
:class:`Services` built from settings they were given) for what they need. Each service is made
on first use, so a console never loads the dialogue's models and an action server never opens a
counsellor's accounts; and every Redis-backed service shares one client, so a process holds one
connection pool whatever it runs. Without ``REDIS_URL`` every store lives in this process's
memory, in this object (not in module globals), so the channels and Rasa's tracker store of one
process see the same conversations.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Optional

import redis.asyncio as aioredis

from bot.conversation.dialogue import Dialogue
from bot.conversation.relay import Relay
from bot.delivery.outbox import Outbox
from bot.handoff.audit import AuditLog
from bot.handoff.counsellors import Counsellors
from bot.handoff.desks import Desks, erasure_hold, transcript_keeping
from bot.handoff.logins import LoginPolicy
from bot.handoff.outcomes import Outcomes
from bot.handoff.queue import HandoffQueue, MemoryHandoffQueue, RedisHandoffQueue
from bot.language.detection import LanguageRegistry
from bot.language.texts import Texts
from bot.privacy.chat_tokens import PURPOSE, ChatTokens
from bot.privacy.erasure import Eraser
from bot.privacy.sender_ids import SenderIds
from bot.routing.hints import RecentHints
from bot.stats.counters import MemoryStats, RedisStats, StatsCounter
from bot.stats.record import StatsRecorder, recorder
from bot.storage.guard import GuardedPool, RedisGuard
from bot.storage.inbound import Journal, MemoryJournal, RedisJournal
from bot.storage.retention import Retention
from bot.storage.stores import (
    MemoryAddressBook,
    MemoryConversations,
    MemoryDedupe,
    RedisAddressBook,
    RedisConversations,
    RedisDedupe,
    RedisInbox,
    Stores,
)
from bot.wiring.faults import Faults
from bot.wiring.settings import Settings

PROBE_MIN_S = 1.0  # the shortest the guard's probe waits for Redis (Services._ping)
LONGEST_WAIT_S = 30  # the longest a read waits in Redis on purpose (web chat: 25 s, console: 15 s)


class Services:
    """What one process uses, built lazily from ``settings``; one Redis client for all of it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def redis(self) -> Optional[aioredis.Redis[str]]:
        """The process's Redis client (None in memory); connects on first use, in the running loop.

        Every call is bounded: connecting and each command give up after ``REDIS_TIMEOUT_MS``, and
        at most ``REDIS_MAX_CONNECTIONS`` are open (a call waits that long for a free one). So a
        refused or frozen Redis costs a child a fraction of a second before the channels' fail-safe
        reply, never a webhook that hangs past Twilio's or Telegram's patience."""
        if self.settings.in_memory:
            return None
        limit_s = self.settings.redis_timeout_ms / 1000
        return self._pool(self.settings.redis_max_connections, socket_timeout=limit_s)

    @cached_property
    def redis_blocking(self) -> Optional[aioredis.Redis[str]]:
        """A client for reads that wait in Redis on purpose (a web chat's long poll, the console's
        event stream): a command time limit just above the longest wait, and a pool of its own, one
        connection per waiting page (``REDIS_WAITING_CONNECTIONS``), so pages never starve turns."""
        if self.settings.in_memory:
            return None
        return self._pool(self.settings.redis_waiting_connections, socket_timeout=LONGEST_WAIT_S + 5)

    @cached_property
    def redis_guard(self) -> RedisGuard:
        """Shared by both pools: once Redis fails, every call fails at once until it answers a try
        (bot.storage.guard), so a turn's several calls cost one time limit, not one each."""
        return RedisGuard(probe=self._ping)

    async def _ping(self) -> None:
        """Whether Redis answers, on a connection of its own (the guard's probe after a timeout or
        a broken connection); raises if it does not. Its time limit is three of a call's, at least
        a second: it must not fail for the reason it is asked, an event loop busy for a moment."""
        limit_s = max(PROBE_MIN_S, 3 * self.settings.redis_timeout_ms / 1000)
        client: aioredis.Redis[str] = aioredis.from_url(
            self.settings.redis_url, socket_timeout=limit_s, socket_connect_timeout=limit_s, decode_responses=True
        )
        try:
            await client.ping()
        finally:
            await client.close(close_connection_pool=True)

    def _pool(self, size: int, socket_timeout: float) -> aioredis.Redis[str]:
        limit_s = self.settings.redis_timeout_ms / 1000
        pool: aioredis.ConnectionPool[aioredis.Connection] = GuardedPool.from_url(
            self.settings.redis_url,
            guard=self.redis_guard,
            max_connections=size,
            timeout=limit_s,
            socket_connect_timeout=limit_s,
            socket_timeout=socket_timeout,
            decode_responses=True,
        )
        return aioredis.Redis(connection_pool=pool, decode_responses=True)  # the pool's setting; typed here

    def _client(self) -> aioredis.Redis[str]:
        client = self.redis
        if client is None:
            raise RuntimeError("this service needs Redis: set REDIS_URL")
        return client

    @property
    def prefix(self) -> str:
        return self.settings.redis_prefix

    @cached_property
    def retention(self) -> Retention:
        return Retention.load()

    @cached_property
    def desks(self) -> Desks:
        return Desks.load(self.settings.handoff_file, self.settings.environment)

    @cached_property
    def registry(self) -> LanguageRegistry:
        return LanguageRegistry()

    @cached_property
    def texts(self) -> Texts:
        return Texts.load(self.registry.codes, self.registry.default, numbers_first=self.registry.numbers_first)

    @cached_property
    def outcomes(self) -> Outcomes:
        return Outcomes.load()

    @cached_property
    def stores(self) -> Stores:
        if self.redis is None:
            return Stores(
                dedupe=MemoryDedupe(),
                addresses=MemoryAddressBook(),
                backend="memory",
                conversations=MemoryConversations(),
            )
        return Stores(
            dedupe=RedisDedupe(self.redis, self.prefix),
            addresses=RedisAddressBook(self.redis, self.prefix),
            backend="redis",
            conversations=RedisConversations(self.redis, self.prefix),
            inbox=RedisInbox(self.redis, self.prefix, self.redis_blocking),
            client=self.redis,
        )

    @cached_property
    def counter(self) -> StatsCounter:
        """The statistics' counters, kept for data/privacy.yml's ``statistics_days`` after each week."""
        if self.redis is None:
            return MemoryStats(self.retention.statistics_s)
        return RedisStats(self.redis, self.prefix, self.retention.statistics_s)

    @cached_property
    def stats(self) -> StatsRecorder:
        return recorder(self.counter, self.registry)

    @cached_property
    def queue(self) -> HandoffQueue:
        """The handoff queue; in memory it cannot reach a console in another process."""
        if self.redis is None:
            return MemoryHandoffQueue(observer=self.stats)
        keeping = transcript_keeping(self.desks, self.retention)
        return RedisHandoffQueue(self.redis, self.prefix + "handoff:", keeping, self.stats, self.redis_blocking)

    @property
    def outbox(self) -> Outbox:
        """Messages to children until sent (bot.delivery): the handoff queue's, which writes into it."""
        return self.queue.outbox

    @cached_property
    def dialogue(self) -> Dialogue:
        return Dialogue.load(self.registry, self.desks, self.retention, self.texts)

    @cached_property
    def relay(self) -> Relay:
        return Relay(self.dialogue, self.queue)

    @cached_property
    def sender_ids(self) -> SenderIds:
        return SenderIds.from_setting(self.settings.sender_key, in_memory=self.settings.in_memory)

    @cached_property
    def chat_tokens(self) -> ChatTokens:
        """Web chat tokens; any process with the same ``HELPLINE_SENDER_KEY`` accepts them."""
        return ChatTokens(self.sender_ids.derived_key(PURPOSE))

    @cached_property
    def eraser(self) -> Eraser:
        return Eraser(self.stores, self.queue, erasure_hold(self.desks), self.journal)

    @cached_property
    def counsellors(self) -> Counsellors:
        settings = self.settings
        policy = LoginPolicy(
            settings.console_login_tries,
            settings.console_address_tries,
            settings.console_lock_s,
            settings.console_lock_max_s,
        )
        return Counsellors(self._client(), self.prefix + "console:", policy)

    @cached_property
    def audit(self) -> AuditLog:
        """Who claimed, took over, transferred or closed which ticket (the console's audit log)."""
        return AuditLog(self._client(), self.prefix + "console:", self.settings.console_audit_days)

    def redis_dedupe(self, name: str) -> RedisDedupe:
        """A dedupe store of its own under ``<prefix><name>:`` (e.g. partner webhooks)."""
        return RedisDedupe(self._client(), f"{self.prefix}{name}:")

    @cached_property
    def faults(self) -> Faults:
        return Faults()

    @cached_property
    def recent_hints(self) -> RecentHints:
        """Recent children's country and language, for fail-safe replies while Redis is down."""
        return RecentHints()

    @cached_property
    def journal(self) -> Journal:
        """Children's messages acknowledged and not yet answered (bot.storage.inbound)."""
        if self.redis is None:
            return MemoryJournal()
        return RedisJournal(self.redis, self.prefix)

    async def close(self) -> None:
        """Release the Redis connections (on shutdown); nothing to do in memory."""
        for name in ("redis", "redis_blocking"):
            client = self.__dict__.get(name)
            if client is not None:
                await client.close()
                await client.connection_pool.disconnect()


@lru_cache(maxsize=1)
def services() -> Services:
    """This process's services, from its environment; raises naming a malformed setting."""
    return Services(Settings.from_environ())
