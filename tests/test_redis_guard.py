"""The Redis guard (bot.storage.guard): once Redis fails, its calls fail at once instead of each
waiting out the time limit, one try a second finds it back, and the process carries on. Against a
private redis-server that is killed, restarted and frozen for real."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.storage.guard import RedisDown, RedisGuard
from bot.storage.stores import STORE_FAULTS
from bot.wiring.services import PROBE_MIN_S, Services
from bot.wiring.settings import Settings
from scripts.private_redis import PrivateRedis

TIMEOUT_MS = 200


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_failure_refuses_calls_at_once_until_one_try_finds_redis_back():
    clock = Clock()
    guard = RedisGuard(retry_after_s=1.0, clock=clock)
    guard.admit()  # up: nothing refused
    guard.failed(RedisTimeoutError("frozen"))
    assert guard.down and guard.outages == 1
    with pytest.raises(RedisDown):
        guard.admit()
    clock.now += 0.99
    with pytest.raises(RedisDown):
        guard.admit()
    clock.now += 0.02
    guard.admit()  # the one try
    with pytest.raises(RedisDown):  # the others still fail fast while it is under way
        guard.admit()
    guard.failed(RedisConnectionError("refused"))  # the try failed: another second
    assert guard.outages == 1
    clock.now += 1.01
    guard.admit()
    guard.answered()
    assert not guard.down
    guard.admit()
    guard.admit()


@pytest.mark.parametrize("redis_answers", [True, False])
async def test_a_timeout_marks_redis_down_only_if_redis_does_not_answer_a_probe_either(redis_answers):
    probes: list[str] = []

    async def probe() -> None:
        probes.append("ping")
        await asyncio.sleep(0.05)
        if not redis_answers:
            raise RedisTimeoutError("frozen")

    guard = RedisGuard(probe=probe)
    for _ in range(3):  # the calls in flight time out together: one probe
        guard.failed(RedisTimeoutError("timed out"))
    assert not guard.down
    await asyncio.sleep(0.1)
    assert probes == ["ping"] and guard.down is not redis_answers
    guard.failed(RedisConnectionError("refused"), refused=True)  # no doubt about a refusal: down at once
    assert guard.down


def test_redis_down_is_a_store_fault_the_channels_already_handle():
    assert isinstance(RedisDown("x"), STORE_FAULTS)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.close()


def services_on(server: PrivateRedis) -> Services:
    return Services(
        Settings.from_environ(
            {"REDIS_URL": server.url, "HELPLINE_REDIS_PREFIX": "guard-test:", "REDIS_TIMEOUT_MS": str(TIMEOUT_MS)}
        )
    )


async def timed_failure(call) -> tuple[float, type]:
    start = time.monotonic()
    with pytest.raises(STORE_FAULTS) as failure:
        await call()
    return time.monotonic() - start, failure.type


async def test_refused_redis_costs_calls_nothing_and_a_restarted_one_is_found_without_restart(private_redis):
    services = services_on(private_redis)
    client = services.redis
    assert client is not None
    try:
        assert await client.set("k", "v") is True
        await asyncio.gather(*(client.get("k") for _ in range(5)))  # several connections wait in the pool
        private_redis.kill()
        took, kind = await timed_failure(lambda: client.get("k"))
        assert kind is not RedisDown and took < TIMEOUT_MS / 1000  # the pooled connection broke: known at once
        await asyncio.sleep(0.05)  # the probe: a new connection, refused
        assert services.redis_guard.down
        took, kind = await timed_failure(lambda: client.get("k"))
        assert kind is RedisDown and took < 0.01
        # the blocking pool (web chat's long poll) shares the guard
        took, kind = await timed_failure(lambda: services.redis_blocking.xread({"s": "0-0"}, block=1000))
        assert kind is RedisDown and took < 0.01
        private_redis.start()
        await asyncio.sleep(1.1)
        assert await client.set("k", "again") is True  # the try: Redis answers
        assert not services.redis_guard.down
        # the connections the old Redis closed are opened again, not failed one after another
        assert await asyncio.gather(*(client.get("k") for _ in range(5))) == ["again"] * 5
        assert not services.redis_guard.down
        assert services.redis_guard.outages == 1
    finally:
        await services.close()


async def test_frozen_redis_costs_one_time_limit_then_calls_fail_at_once_and_it_comes_back(private_redis):
    services = services_on(private_redis)
    client = services.redis
    assert client is not None
    try:
        assert await client.set("k", "v") is True
        private_redis.freeze()
        took, kind = await timed_failure(lambda: client.get("k"))
        # (the client's timer and this clock may differ by a fraction of a millisecond)
        assert kind is RedisTimeoutError and TIMEOUT_MS / 1000 - 0.005 <= took < 2 * TIMEOUT_MS / 1000
        await asyncio.sleep(PROBE_MIN_S + 0.2)  # the probe that confirms it (a PING) times out too
        assert services.redis_guard.down
        # ten calls in a row, as a turn makes: together far less than one time limit
        start = time.monotonic()
        for _ in range(10):
            await timed_failure(lambda: client.get("k"))
        assert time.monotonic() - start < 0.05
        private_redis.thaw()
        await asyncio.sleep(1.1)
        assert await client.get("k") == "v"
        assert not services.redis_guard.down
    finally:
        await services.close()


async def test_an_error_reply_means_redis_is_there(private_redis):
    services = services_on(private_redis)
    client = services.redis
    assert client is not None
    try:
        await client.set("text", "v")
        with pytest.raises(ResponseError):
            await client.incr("text")  # WRONGTYPE-like: not an integer
        assert not services.redis_guard.down
    finally:
        await services.close()


async def test_waiting_for_counsellors_messages_longer_than_the_time_limit_is_no_fault():
    """The outbox's sender waits a second at a time for messages to children: that wait goes
    through the client meant for waiting, so it neither times out nor makes the process think Redis
    is down."""
    services = Services(
        Settings.from_environ(
            {
                "REDIS_URL": "redis://127.0.0.1:6379/0",
                "HELPLINE_REDIS_PREFIX": f"test-guard-{uuid.uuid4().hex}:",
                "REDIS_TIMEOUT_MS": str(TIMEOUT_MS),
            }
        )
    )
    try:
        start = time.monotonic()
        assert await services.outbox.read("worker", block_ms=1000) == []
        assert time.monotonic() - start >= 0.9
        assert not services.redis_guard.down
    finally:
        client = services.redis
        assert client is not None
        keys = [key async for key in client.scan_iter(match=f"{services.prefix}*")]
        if keys:
            await client.delete(*keys)
        await services.close()


async def test_a_process_too_busy_to_connect_in_time_does_not_take_redis_for_down():
    services = Services(
        Settings.from_environ(
            {"REDIS_URL": "redis://127.0.0.1:6379/0", "HELPLINE_REDIS_PREFIX": "test-guard:", "REDIS_TIMEOUT_MS": "100"}
        )
    )
    client = services.redis
    assert client is not None
    try:
        call = asyncio.ensure_future(client.get("test-guard:absent"))
        await asyncio.sleep(0)  # connecting...
        time.sleep(0.3)  # ...while the event loop is busy (start-up work, a slow turn) past the time limit
        with pytest.raises(RedisTimeoutError):
            await call  # that call is lost: its timer fired before the connection was seen
        await asyncio.sleep(0.3)  # the probe: Redis answers
        assert not services.redis_guard.down
        assert await client.get("test-guard:absent") is None
    finally:
        await services.close()


async def test_a_connection_redis_closed_while_idle_does_not_take_redis_for_down(private_redis):
    services = services_on(private_redis)
    client = services.redis
    assert client is not None
    try:
        await client.config_set("timeout", 1)  # Redis closes a connection idle for a second
        await client.set("k", "v")
        await asyncio.sleep(2.5)
        outcome = (await asyncio.gather(client.get("k"), return_exceptions=True))[0]
        await asyncio.sleep(0.5)  # the probe
        print(f"the call on the closed connection: {outcome!r}")
        assert not services.redis_guard.down
        assert await client.get("k") == "v"
    finally:
        await services.close()


async def test_the_outbox_reads_again_after_redis_restarted_without_its_data(private_redis):
    """Found by the fault suite: the outbox's consumer group, made once, was gone with the old
    Redis, and every read failed (NOGROUP) until the server restarted."""
    services = services_on(private_redis)
    try:
        assert await services.outbox.read("sender", block_ms=50) == []
        private_redis.kill()
        private_redis.start()  # empty
        failures: list[str] = []
        deadline = time.monotonic() + 5
        while True:  # as the sender's read loop does
            try:
                assert await services.outbox.read("sender", block_ms=50) == []
                break
            except STORE_FAULTS as error:
                failures.append(type(error).__name__)
                assert time.monotonic() < deadline, failures
                await asyncio.sleep(0.2)
        assert "ResponseError" in failures  # NOGROUP once; then the group is made again
    finally:
        await services.close()
