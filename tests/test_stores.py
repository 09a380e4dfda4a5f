"""The channel stores behave the same in memory and on a real Redis (127.0.0.1:6379, no mocks).

Each Redis test uses a unique random key prefix and deletes its keys afterwards. The Redis client
is made by the test's own (async) fixture because redis-py's asyncio connections belong to one loop.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from bot.storage.stores import (
    INBOX_KEPT,
    AddressBook,
    Dedupe,
    Inbox,
    MemoryAddressBook,
    MemoryDedupe,
    MemoryInbox,
    RedisAddressBook,
    RedisDedupe,
    RedisInbox,
    Stores,
)
from tests.conftest import redis_keys_removed

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_available() -> bool:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def redis_server() -> str:
    # Deployment runs on Redis, so these tests need the real one (.ci/run starts it): fail, never skip.
    assert _redis_available(), f"no Redis server at {REDIS_URL}: start one (redis-server) or run .ci/run"
    return REDIS_URL


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted after the test (if Redis was used)."""
    unique = f"test-stores:{uuid.uuid4().hex}:"
    yield unique
    if "redis_server" in request.fixturenames:
        redis_keys_removed(unique)


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[Stores]:
    """Fresh stores of the parametrized backend (on Redis: a client of the test's own event loop)."""
    if request.param == "memory":
        yield Stores(dedupe=MemoryDedupe(), addresses=MemoryAddressBook(), backend="memory", inbox=MemoryInbox())
        return
    request.getfixturevalue("redis_server")
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        yield Stores(
            dedupe=RedisDedupe(client, prefix),
            addresses=RedisAddressBook(client, prefix),
            backend="redis",
            inbox=RedisInbox(client, prefix),
            client=client,
        )
    finally:
        await client.close()


# --- Dedupe ----------------------------------------------------------------------------------


async def test_a_key_is_new_once_then_a_repeat(stores):
    assert isinstance(stores.dedupe, Dedupe)
    assert await stores.dedupe.first_time("telegram:update:1", 60) is True
    assert await stores.dedupe.first_time("telegram:update:1", 60) is False
    assert await stores.dedupe.first_time("telegram:update:1", 60) is False


async def test_a_key_is_new_again_after_it_expires(stores):
    assert await stores.dedupe.first_time("twilio:SM123", 1) is True
    assert await stores.dedupe.first_time("twilio:SM123", 1) is False
    await asyncio.sleep(1.1)
    assert await stores.dedupe.first_time("twilio:SM123", 1) is True
    assert await stores.dedupe.first_time("twilio:SM123", 1) is False


async def test_different_keys_are_independent(stores):
    assert await stores.dedupe.first_time("a", 60) is True
    assert await stores.dedupe.first_time("b", 60) is True
    assert await stores.dedupe.first_time("a", 60) is False
    assert await stores.dedupe.first_time("b", 60) is False
    assert await stores.dedupe.first_time("c", 60) is True


async def test_concurrent_retries_are_processed_exactly_once(stores):
    results = await asyncio.gather(*(stores.dedupe.first_time("same", 60) for _ in range(20)))
    assert results.count(True) == 1
    assert results.count(False) == 19


async def test_a_ttl_below_one_second_is_refused(stores):
    for bad in (0, -5):
        with pytest.raises(ValueError, match="ttl_s"):
            await stores.dedupe.first_time("k", bad)
        with pytest.raises(ValueError, match="ttl_s"):
            await stores.addresses.remember("k", "123", bad)


async def test_redis_keys_live_under_the_prefix(redis_server, prefix):
    client = aioredis.from_url(redis_server, decode_responses=True)
    try:
        await RedisDedupe(client, prefix).first_time("u1", 60)
        await RedisAddressBook(client, prefix).remember("hash1", "+254722000000", 60)
        keys = sorted([key async for key in client.scan_iter(match=f"{prefix}*")])
        assert keys == [f"{prefix}address:hash1", f"{prefix}dedupe:u1"]
        assert 0 < await client.ttl(f"{prefix}dedupe:u1") <= 60
    finally:
        await client.close()


# --- AddressBook -----------------------------------------------------------------------------


async def test_an_address_is_remembered_looked_up_and_forgotten(stores):
    book = stores.addresses
    assert isinstance(book, AddressBook)
    assert await book.lookup("hash-a") is None
    await book.remember("hash-a", "123456789", 60)
    await book.remember("hash-b", "+4915112345678", 60)
    assert await book.lookup("hash-a") == "123456789"
    assert await book.lookup("hash-b") == "+4915112345678"
    await book.remember("hash-a", "987654321", 60)  # a newer address replaces the old
    assert await book.lookup("hash-a") == "987654321"
    await book.forget("hash-a")
    assert await book.lookup("hash-a") is None
    assert await book.lookup("hash-b") == "+4915112345678"
    await book.forget("never-seen")  # forgetting an unknown sender is harmless


async def test_an_address_expires(stores):
    book = stores.addresses
    await book.remember("hash-a", "123456789", 1)
    await book.remember("hash-b", "555", 60)
    assert await book.lookup("hash-a") == "123456789"
    await asyncio.sleep(1.1)
    assert await book.lookup("hash-a") is None
    assert await book.lookup("hash-b") == "555"


# --- Inbox (web chats) -----------------------------------------------------------------------


async def test_an_inbox_gives_each_message_once_in_order_after_a_cursor(stores):
    inbox = stores.inbox
    assert isinstance(inbox, Inbox)
    assert await inbox.read("web-a", "0-0", 0) == []
    first = await inbox.put("web-a", "A counsellor is here.", [], 60)
    second = await inbox.put("web-a", "Pick one:", [{"title": "Yes", "payload": "1"}], 60)
    await inbox.put("web-b", "not yours", [], 60)
    everything = await inbox.read("web-a", "0-0", 0)
    assert [(m["id"], m["text"], m["buttons"]) for m in everything] == [
        (first, "A counsellor is here.", []),
        (second, "Pick one:", [{"title": "Yes", "payload": "1"}]),
    ]
    assert [m["text"] for m in await inbox.read("web-a", first, 0)] == ["Pick one:"]
    assert await inbox.read("web-a", second, 0) == []
    await inbox.delete("web-a")
    assert await inbox.read("web-a", "0-0", 0) == []
    assert [m["text"] for m in await inbox.read("web-b", "0-0", 0)] == ["not yours"]


async def test_a_waiting_read_returns_as_soon_as_a_message_arrives(stores):
    cursor = await stores.inbox.put("web-a", "hello", [], 60)
    reading = asyncio.ensure_future(stores.inbox.read("web-a", cursor, 10))
    await asyncio.sleep(0.2)
    assert not reading.done()
    started = asyncio.get_running_loop().time()
    await stores.inbox.put("web-a", "I'm Amina, a counsellor.", [], 60)
    assert [m["text"] for m in await reading] == ["I'm Amina, a counsellor."]
    assert asyncio.get_running_loop().time() - started < 2
    assert await stores.inbox.read("web-a", cursor.split("-")[0] + "9-0", 0.3) == []  # waited, nothing


async def test_an_inbox_keeps_only_its_newest_messages_and_expires(stores):
    for number in range(INBOX_KEPT + 5):
        await stores.inbox.put("web-a", f"m{number}", [], 1)
    kept = await stores.inbox.read("web-a", "0-0", 0)
    assert [m["text"] for m in kept] == [f"m{n}" for n in range(5, INBOX_KEPT + 5)]
    await asyncio.sleep(1.2)
    assert await stores.inbox.read("web-a", "0-0", 0) == []
    with pytest.raises(ValueError, match="cursor"):
        await stores.inbox.read("web-a", "latest", 0)


# --- in-memory bounds ------------------------------------------------------------------------


async def test_memory_stores_are_bounded_and_drop_the_oldest_first():
    dedupe = MemoryDedupe(max_entries=3)
    for key in ("k1", "k2", "k3", "k4"):
        assert await dedupe.first_time(key, 60) is True
    assert len(dedupe) == 3
    assert await dedupe.first_time("k4", 60) is False
    assert await dedupe.first_time("k1", 60) is True  # k1 was dropped to make room

    book = MemoryAddressBook(max_entries=2)
    await book.remember("a", "1", 60)
    await book.remember("b", "2", 60)
    await book.remember("c", "3", 60)
    assert len(book) == 2
    assert [await book.lookup(s) for s in "abc"] == [None, "2", "3"]


async def test_memory_stores_evict_expired_entries_on_access():
    now = [1000.0]
    dedupe = MemoryDedupe(clock=lambda: now[0])
    for n in range(50):
        await dedupe.first_time(f"old{n}", 10)
    assert len(dedupe) == 50
    now[0] += 11
    assert await dedupe.first_time("new", 10) is True
    assert len(dedupe) == 1
