"""The small stores the bot needs: webhook dedupe, the sender address book, conversations
(what Rasa keeps of each child's conversation: channels.tracker_store) and web chats' inboxes.

Each store has two implementations behind one interface:

* in memory — the embedded default, so the local quick start needs no Redis. It lives in one
  process: with several workers or a restart, a retried webhook may be processed twice and a
  reply address may be lost.
* Redis — for deployments, shared by every worker and surviving restarts. It uses redis-py's
  asyncio client because the channels run inside Sanic's event loop.

bot.wiring builds them: Redis when ``REDIS_URL`` is set, memory otherwise.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Dict,
    Mapping,
    Optional,
    Protocol,
    Tuple,
    TypeAlias,
    TypedDict,
    cast,
    runtime_checkable,
)

import redis.asyncio as aioredis
from redis.exceptions import RedisError

MAX_MEMORY_ENTRIES = 100_000
# What a store raises when Redis is refused, frozen (a command's time limit) or out of connections.
STORE_FAULTS: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)

# A client that decodes answers (decode_responses=True, as bot.wiring builds it) or not: the stores read both.
RedisClient: TypeAlias = "aioredis.Redis[str] | aioredis.Redis[bytes]"


@runtime_checkable
class Dedupe(Protocol):
    """Telegram and Twilio retry a webhook they think failed; each update must be handled once."""

    async def first_time(self, key: str, ttl_s: int) -> bool:
        """True the first time ``key`` is seen within ``ttl_s`` seconds, False for repeats.
        Keys are ``<channel>:<sender_id>:<message id>``, so a child's can be erased."""
        ...

    async def forget_sender(self, sender_id: str) -> None:
        """Drop every key of ``sender_id`` (the child asked to delete their data)."""
        ...


@runtime_checkable
class AddressBook(Protocol):
    """Rasa only sees a hashed sender id; replying needs the real chat id or phone number.

    The real address is kept only as long as a reply may be needed (``ttl_s``), then forgotten.
    """

    async def remember(self, sender_id: str, address: str, ttl_s: int) -> None:
        """Store (or refresh) the address for ``sender_id`` for ``ttl_s`` seconds."""
        ...

    async def lookup(self, sender_id: str) -> Optional[str]:
        """The address for ``sender_id``, or None when unknown or expired."""
        ...

    async def forget(self, sender_id: str) -> None:
        """Drop the address now (e.g. when the conversation ends)."""
        ...


def _check_ttl(ttl_s: int) -> int:
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s < 1:
        raise ValueError(f"ttl_s must be a whole number of seconds >= 1, not {ttl_s!r}")
    return ttl_s


@runtime_checkable
class Conversations(Protocol):
    """Each conversation's state, serialised, under its hashed sender id; expires unless written."""

    async def load(self, sender_id: str) -> Optional[str]: ...

    async def save(self, sender_id: str, state: str, ttl_s: int) -> None: ...

    async def delete(self, sender_id: str) -> None: ...

    async def senders(self) -> list[str]: ...


class InboxMessage(TypedDict):
    id: str  # its cursor
    text: str
    buttons: list[dict[str, str]]  # [{"title", "payload"}]


# fullmatch, ASCII digits: "$" would let "1-0\n" through and \d takes "١-٠", both of which Redis refuses.
_CURSOR = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
_LARGEST_PART = 2**64 - 1  # each half of a Redis stream id is an unsigned 64-bit number
INBOX_KEPT = 50  # an inbox holds the newest messages only: a page that was away long reloads


def is_cursor(cursor: str) -> bool:
    """Whether ``cursor`` is a Redis stream id ("<number>-<number>", each below 2^64), as inboxes
    and event streams hand them out: anything else would be refused by Redis mid-request."""
    found = _CURSOR.fullmatch(cursor)
    return found is not None and all(int(part) <= _LARGEST_PART for part in found.groups())


def check_cursor(cursor: str) -> str:
    """A cursor as inboxes hand them out; ValueError otherwise."""
    if not is_cursor(cursor):
        raise ValueError("a cursor is two numbers below 2^64 joined by '-', as the last message's id")
    return cursor


@runtime_checkable
class Inbox(Protocol):
    """Messages the server starts for a web chat (a counsellor's reply, a waiting notice), kept
    until the child's page fetches them: a browser cannot be called, it must ask."""

    async def put(self, sender_id: str, text: str, buttons: list[dict[str, str]], ttl_s: int) -> str:
        """Add a message; its id, which is also the cursor to read after it."""
        ...

    async def read(self, sender_id: str, after: str, wait_s: float) -> list[InboxMessage]:
        """Messages newer than ``after`` ("0-0": all kept), waiting up to ``wait_s`` for one."""
        ...

    async def delete(self, sender_id: str) -> None: ...


def _after(cursor: str) -> tuple[int, int]:
    first, second = check_cursor(cursor).split("-")
    return int(first), int(second)


# --- in memory -------------------------------------------------------------------------------


class _ExpiringDict:
    """A dict whose entries expire, bounded so a flood of keys cannot exhaust memory.

    Expired entries are removed lazily on access (from the oldest end, which is cheap); when
    still full, the oldest written entries are dropped. Not thread-safe, but safe within one
    event loop: no method awaits, so check-and-set cannot interleave.
    """

    def __init__(self, max_entries: int = MAX_MEMORY_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, not {max_entries!r}")
        self._max = max_entries
        self._clock = clock
        self._entries: Dict[str, Tuple[float, str]] = {}  # key -> (expires_at, value), write order

    def __len__(self) -> int:
        return len(self._entries)

    def _evict_expired(self, now: float) -> None:
        entries = self._entries
        while entries:
            oldest = next(iter(entries))
            if entries[oldest][0] > now:
                break
            del entries[oldest]

    def get(self, key: str) -> Optional[str]:
        now = self._clock()
        self._evict_expired(now)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            del self._entries[key]
            return None
        return entry[1]

    def set(self, key: str, value: str, ttl_s: int, only_if_absent: bool = False) -> bool:
        """Store ``value``; with ``only_if_absent``, only when no live entry exists. True if stored."""
        if only_if_absent and self.get(key) is not None:
            return False
        now = self._clock()
        self._evict_expired(now)
        self._entries.pop(key, None)  # re-inserting moves the key to the newest end
        while len(self._entries) >= self._max:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (now + ttl_s, value)
        return True

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    def keys(self) -> list[str]:
        """The keys of live entries."""
        self._evict_expired(self._clock())
        return [key for key in list(self._entries) if self.get(key) is not None]


class MemoryDedupe:
    """Dedupe in this process's memory (local quick start)."""

    def __init__(self, max_entries: int = MAX_MEMORY_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self._seen = _ExpiringDict(max_entries, clock)

    def __len__(self) -> int:
        return len(self._seen)

    async def first_time(self, key: str, ttl_s: int) -> bool:
        return self._seen.set(key, "1", _check_ttl(ttl_s), only_if_absent=True)

    async def forget_sender(self, sender_id: str) -> None:
        for key in self._seen.keys():
            if f":{sender_id}:" in key:
                self._seen.delete(key)


class MemoryAddressBook:
    """Address book in this process's memory (local quick start)."""

    def __init__(self, max_entries: int = MAX_MEMORY_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self._addresses = _ExpiringDict(max_entries, clock)

    def __len__(self) -> int:
        return len(self._addresses)

    async def remember(self, sender_id: str, address: str, ttl_s: int) -> None:
        self._addresses.set(sender_id, address, _check_ttl(ttl_s))

    async def lookup(self, sender_id: str) -> Optional[str]:
        return self._addresses.get(sender_id)

    async def forget(self, sender_id: str) -> None:
        self._addresses.delete(sender_id)


class MemoryConversations:
    """Conversations in this process's memory (local quick start); one per process, shared by
    Rasa's tracker store and the channels (which erase a conversation on the child's request)."""

    def __init__(self, max_entries: int = MAX_MEMORY_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self._states = _ExpiringDict(max_entries, clock)

    async def load(self, sender_id: str) -> Optional[str]:
        return self._states.get(sender_id)

    async def save(self, sender_id: str, state: str, ttl_s: int) -> None:
        self._states.set(sender_id, state, _check_ttl(ttl_s))

    async def delete(self, sender_id: str) -> None:
        self._states.delete(sender_id)

    async def senders(self) -> list[str]:
        return self._states.keys()


class MemoryInbox:
    """Web chats' inboxes in this process's memory (local quick start); a waiting read is woken
    by the next message for its sender."""

    def __init__(self, max_entries: int = MAX_MEMORY_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self._boxes = _ExpiringDict(max_entries, clock)  # sender -> JSON list of messages
        self._numbers = itertools.count(1)
        self._arrived: dict[str, asyncio.Event] = {}

    def _messages(self, sender_id: str) -> list[InboxMessage]:
        return cast(list[InboxMessage], json.loads(self._boxes.get(sender_id) or "[]"))

    async def put(self, sender_id: str, text: str, buttons: list[dict[str, str]], ttl_s: int) -> str:
        message: InboxMessage = {"id": f"{next(self._numbers)}-0", "text": text, "buttons": buttons}
        kept = (self._messages(sender_id) + [message])[-INBOX_KEPT:]
        self._boxes.set(sender_id, json.dumps(kept), _check_ttl(ttl_s))
        event = self._arrived.pop(sender_id, None)
        if event is not None:
            event.set()
        return message["id"]

    async def read(self, sender_id: str, after: str, wait_s: float) -> list[InboxMessage]:
        start = _after(after)
        newer = [m for m in self._messages(sender_id) if _after(m["id"]) > start]
        if newer or wait_s <= 0:
            return newer
        event = self._arrived.setdefault(sender_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), wait_s)
        except asyncio.TimeoutError:
            return []
        return [m for m in self._messages(sender_id) if _after(m["id"]) > start]

    async def delete(self, sender_id: str) -> None:
        self._boxes.delete(sender_id)


# --- Redis -----------------------------------------------------------------------------------


class RedisDedupe:
    """Dedupe shared by all workers: ``SET <prefix>dedupe:<key> 1 NX EX ttl`` is atomic."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}dedupe:{key}"

    async def first_time(self, key: str, ttl_s: int) -> bool:
        stored = await self.client.set(self._key(key), 1, nx=True, ex=_check_ttl(ttl_s))
        return bool(stored)

    async def forget_sender(self, sender_id: str) -> None:
        keys = [key async for key in self.client.scan_iter(match=self._key(f"*:{sender_id}:*"), count=1000)]
        if keys:
            await self.client.delete(*keys)


class RedisAddressBook:
    """Address book shared by all workers, under ``<prefix>address:<sender_id>`` with EX ttl."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, sender_id: str) -> str:
        return f"{self.prefix}address:{sender_id}"

    async def remember(self, sender_id: str, address: str, ttl_s: int) -> None:
        await self.client.set(self._key(sender_id), address, ex=_check_ttl(ttl_s))

    async def lookup(self, sender_id: str) -> Optional[str]:
        value = await self.client.get(self._key(sender_id))
        if isinstance(value, bytes):  # a client without decode_responses
            return value.decode("utf-8")
        return value

    async def forget(self, sender_id: str) -> None:
        await self.client.delete(self._key(sender_id))


class RedisConversations:
    """Conversations shared by every Rasa server, under ``<prefix>conversation:<sender_id>``."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, sender_id: str) -> str:
        """The conversation's key (bot.storage.inbound writes it under the lease)."""
        return f"{self.prefix}conversation:{sender_id}"

    async def load(self, sender_id: str) -> Optional[str]:
        value = await self.client.get(self.key(sender_id))
        return value.decode("utf-8") if isinstance(value, bytes) else value

    async def save(self, sender_id: str, state: str, ttl_s: int) -> None:
        await self.client.set(self.key(sender_id), state, ex=_check_ttl(ttl_s))

    async def delete(self, sender_id: str) -> None:
        await self.client.delete(self.key(sender_id))

    async def senders(self) -> list[str]:
        start = len(self.key(""))
        return [str(key)[start:] async for key in self.client.scan_iter(match=self.key("*"))]


class RedisInbox:
    """Inboxes shared by every server, as streams ``<prefix>inbox:<sender_id>`` (the newest
    INBOX_KEPT messages, expiring ``ttl_s`` after the last); a read blocks in Redis (XREAD), so a
    counsellor's reply written on one server reaches a page waiting on another at once."""

    def __init__(self, client: RedisClient, prefix: str, blocking: Optional[RedisClient] = None) -> None:
        """``blocking``: the client for the long poll, whose time limit allows for the wait."""
        self.client = client
        self.prefix = prefix
        self._blocking = blocking or client

    def _key(self, sender_id: str) -> str:
        return f"{self.prefix}inbox:{sender_id}"

    async def put(self, sender_id: str, text: str, buttons: list[dict[str, str]], ttl_s: int) -> str:
        key = self._key(sender_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {"text": text, "buttons": json.dumps(buttons)}, maxlen=INBOX_KEPT, approximate=False)
            pipe.expire(key, _check_ttl(ttl_s))
            added, _ = await pipe.execute()
        return as_text(added)

    async def read(self, sender_id: str, after: str, wait_s: float) -> list[InboxMessage]:
        check_cursor(after)
        found = await self._blocking.xread(
            {self._key(sender_id): after}, count=INBOX_KEPT, block=int(wait_s * 1000) if wait_s > 0 else None
        )
        return [
            {
                "id": as_text(entry),
                "text": stream_field(values, "text"),
                "buttons": json.loads(stream_field(values, "buttons") or "[]"),
            }
            for _, entries in found or []
            for entry, values in entries
        ]

    async def delete(self, sender_id: str) -> None:
        await self.client.delete(self._key(sender_id))


def stream_field(fields: Mapping[Any, str | bytes], name: str) -> str:
    """A stream entry's field, whether the client decodes answers (redis_client) or not."""
    return as_text(fields.get(name.encode(), fields.get(name, "")))


def as_text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --- choosing from the environment -----------------------------------------------------------


@dataclass
class Stores:
    dedupe: Dedupe
    addresses: AddressBook
    backend: str  # "redis" or "memory"
    conversations: Conversations = field(default_factory=MemoryConversations)
    inbox: Inbox = field(default_factory=MemoryInbox)
    client: Optional[RedisClient] = field(default=None, repr=False)  # the Redis client, if any

    async def close(self) -> None:
        """Release the Redis connections (call on server shutdown); nothing to do in memory."""
        if self.client is not None:
            await self.client.close()
