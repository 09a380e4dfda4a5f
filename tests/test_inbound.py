"""The journal of acknowledged messages (bot.storage.inbound), on real Redis and in memory: a
message is kept before the webhook answers, answered once, in order, by one worker at a time,
and a dead worker's messages are taken over."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any, AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.storage.inbound import (
    BATCH,
    CLAIM,
    Claim,
    Entry,
    Journal,
    LeaseLost,
    MemoryJournal,
    NewState,
    RedisJournal,
    Worker,
    hold_for_request,
)
from bot.storage.turn_gate import TurnGate
from tests.conftest import CHANNEL_ENV

REDIS_URL = CHANNEL_ENV["REDIS_URL"]


@pytest.fixture(params=["redis", "memory"])
async def journal(request: pytest.FixtureRequest) -> AsyncIterator[Journal]:
    if request.param == "memory":
        yield MemoryJournal()
        return
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"test-inbound-{uuid.uuid4().hex}:"
    yield RedisJournal(client, prefix, lease_ms=600)
    async for key in client.scan_iter(f"{prefix}*"):
        await client.delete(key)
    await client.close()


def message(n: int) -> dict[str, Any]:
    return {"channel": "sms", "n": n}


class Recorder:
    """A channel's handler that notes what it answered, slowly if asked."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.answered: list[int] = []
        self.delay_s = delay_s

    async def __call__(self, payload: dict[str, Any]) -> None:
        await asyncio.sleep(self.delay_s)
        self.answered.append(payload["n"])


def worker_for(journal: Journal, handler: Recorder) -> Worker:
    worker = Worker(journal, renew_every_s=0.1)
    worker.handlers["sms"] = handler
    return worker


async def until(check: Any, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_a_retried_webhook_is_recorded_once(journal: Journal) -> None:
    assert await journal.record("c1", "sms:c1:SM1", 60, message(1)) is True
    assert await journal.record("c1", "sms:c1:SM1", 60, message(1)) is False
    lease = await journal.take("c1")
    assert lease is not None
    assert [e.payload for e in await journal.entries(lease)] == [message(1)]


async def test_the_lease_comes_with_the_oldest_waiting_messages_as_entries_reads_them(journal: Journal) -> None:
    for n in range(BATCH + 2):
        assert await journal.record("c1", f"sms:c1:SM{n}", 60, message(n)) is True
    lease = await journal.take("c1")
    assert lease is not None
    assert [(e.payload, e.key) for e in lease.waiting] == [(message(n), f"sms:c1:SM{n}") for n in range(BATCH)]
    assert list(lease.waiting) == await journal.entries(lease)
    assert await journal.take("c1") is None  # held: no lease, no messages
    empty = await journal.take("c2")
    assert empty is not None and empty.waiting == ()


async def test_a_record_that_runs_out_of_time_is_made_once_more_and_kept_once() -> None:
    """Redis busy past the client's time limit (a Lua loop on another connection stands for it):
    the first call times out, the second finds it written after all; one message, woken."""
    client = aioredis.from_url(REDIS_URL, decode_responses=True, socket_timeout=0.15)
    busy = aioredis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"test-inbound-{uuid.uuid4().hex}:"
    journal = RedisJournal(client, prefix)
    spin = (
        "local t = redis.call('TIME') local s = t[1] * 1e6 + t[2] "
        "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] - s > 250000"
    )
    try:
        await journal.record("warm", "sms:warm", 60, message(0))  # the script is loaded before Redis gets busy
        spinning = asyncio.ensure_future(busy.eval(spin, 0))
        await asyncio.sleep(0.02)
        assert await journal.record("c1", "sms:c1:SM1", 60, message(1)) is True
        await spinning
        lease = await journal.take("c1")
        assert lease is not None
        assert [e.payload for e in await journal.entries(lease)] == [message(1)]
        assert await journal.record("c1", "sms:c1:SM1", 60, message(1)) is False  # Twilio's retry later: seen
    finally:
        async for key in busy.scan_iter(f"{prefix}*"):
            await busy.delete(key)
        await client.close()
        await busy.close()


async def test_one_worker_at_a_time_and_a_lease_is_kept_while_messages_wait(journal: Journal) -> None:
    await journal.record("c1", "k1", 60, message(1))
    lease = await journal.take("c1")
    assert lease is not None and await journal.take("c1") is None
    assert await journal.release(lease) is False  # a message waits: the holder must answer it first
    [entry] = await journal.entries(lease)
    await journal.done(lease, entry)
    assert await journal.release(lease) is True
    assert await journal.take("c1") is not None  # free again


async def test_a_burst_is_answered_in_order_once(journal: Journal) -> None:
    handler = Recorder(delay_s=0.01)
    worker = worker_for(journal, handler)
    for n in range(20):
        assert await journal.record("c1", f"k{n}", 60, message(n))
        worker.start("c1")  # as each webhook does; only one drain runs
    await until(lambda: len(handler.answered) == 20)
    await asyncio.sleep(0.1)
    assert handler.answered == list(range(20))
    assert await journal.orphans(now_ms=10**15) == []  # nothing left waiting


async def test_conversations_are_answered_side_by_side(journal: Journal) -> None:
    slow, fast = Recorder(delay_s=0.5), Recorder()
    worker = Worker(journal)
    worker.handlers["sms"] = slow
    worker.handlers["web"] = fast
    await journal.record("slow", "k1", 60, message(1))
    await journal.record("fast", "k2", 60, {"channel": "web", "n": 2})
    worker.start("slow")
    worker.start("fast")
    await until(lambda: fast.answered == [2], timeout_s=0.4)  # not held up behind the slow one
    await until(lambda: slow.answered == [1])


class ArrivingAsItLetsGo(MemoryJournal):
    """A journal where the next message arrives just as the worker lets the conversation go: in the
    loop turn after its last step, before anything else the event loop had queued."""

    def __init__(self) -> None:
        super().__init__()
        self.worker: Worker | None = None

    async def release(self, lease: Any) -> bool:
        released = await super().release(lease)
        if released and not self._waiting.get("c1") and self._next_id == 1:
            asyncio.get_running_loop().call_soon(self._arrive)
        return released

    def _arrive(self) -> None:
        self._next_id += 1
        self._waiting.setdefault("c1", []).append(Entry(f"{self._next_id}-0", message(2), "k2"))
        assert self.worker is not None
        self.worker.start("c1")  # what the webhook does once the message is recorded


async def test_a_message_arriving_as_the_worker_lets_go_is_answered_at_once() -> None:
    journal = ArrivingAsItLetsGo()
    handler = Recorder()
    journal.worker = worker = worker_for(journal, handler)  # no sweep runs here: only the start counts
    await journal.record("c1", "k1", 60, message(1))
    worker.start("c1")
    await until(lambda: handler.answered == [1, 2], timeout_s=1.0)


async def test_a_dead_workers_messages_are_taken_over_in_order() -> None:
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"test-inbound-{uuid.uuid4().hex}:"
    try:
        journal = RedisJournal(client, prefix, lease_ms=300)
        for n in range(3):
            await journal.record("c1", f"k{n}", 60, message(n))
        dead = await journal.take("c1")  # a server took the conversation, then died: never renewed
        assert dead is not None
        other = Recorder()
        survivor = worker_for(journal, other)
        assert await survivor.sweep() in (0, 1)  # too early, or the lease is still held: nothing answered
        await asyncio.sleep(0.05)
        assert other.answered == []
        await asyncio.sleep(1.1)  # the lease lapsed, and the messages waited past ORPHAN_AFTER_MS
        assert await survivor.sweep() == 1
        await until(lambda: other.answered == [0, 1, 2])
        assert await journal.renew(dead) is False  # the dead one's token is worthless now
    finally:
        async for key in client.scan_iter(f"{prefix}*"):
            await client.delete(key)
        await client.close()


async def test_a_failing_turn_does_not_block_the_conversation(journal: Journal) -> None:
    answered: list[int] = []

    async def handler(payload: dict[str, Any]) -> None:
        if payload["n"] == 0:
            raise RuntimeError("this message breaks every server")
        answered.append(payload["n"])

    worker = Worker(journal)
    worker.handlers["sms"] = handler
    for n in range(3):
        await journal.record("c1", f"k{n}", 60, message(n))
    worker.start("c1")
    await until(lambda: answered == [1, 2])


async def test_stopping_finishes_the_turn_under_way_and_hands_back_the_rest(journal: Journal) -> None:
    handler = Recorder(delay_s=0.2)
    worker = worker_for(journal, handler)
    for n in range(5):
        await journal.record("c1", f"k{n}", 60, message(n))
    worker.start("c1")
    await asyncio.sleep(0.05)
    assert await worker.stop(limit_s=2) == 1  # the turn under way finished within the limit; four wait
    assert handler.answered == [0]
    worker.start("c1")  # a stopping worker takes nothing new
    heir = Recorder()
    other = worker_for(journal, heir)
    other.start("c1")  # the lease was handed back at once, not left to lapse
    await until(lambda: heir.answered == [1, 2, 3, 4])
    assert handler.answered == [0]


async def test_stopping_after_a_conversations_last_message_lets_it_go_and_hands_nothing_back(journal: Journal) -> None:
    handler = Recorder(delay_s=0.2)
    worker = worker_for(journal, handler)
    await journal.record("c1", "k1", 60, message(1))
    worker.start("c1")
    await asyncio.sleep(0.05)
    assert await worker.stop(limit_s=2) == 0
    assert handler.answered == [1]
    assert await journal.orphans(now_ms=2**62) == []  # nothing left for another server to look at


async def test_a_turn_past_the_limit_is_cut_and_its_message_kept(journal: Journal) -> None:
    handler = Recorder(delay_s=5)
    worker = worker_for(journal, handler)
    await journal.record("c1", "k1", 60, message(1))
    worker.start("c1")
    await asyncio.sleep(0.05)
    assert await worker.stop(limit_s=0.1) == 1
    lease = await journal.take("c1")
    assert lease is not None and [e.payload for e in await journal.entries(lease)] == [message(1)]


# --- fencing: a worker past its lease writes nothing -------------------------------------------


class Store:
    """The conversations store's part the journal writes under the lease (in memory, as a dict)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix, self.states = prefix, {}

    def key(self, sender: str) -> str:
        return f"{self.prefix}conversation:{sender}"

    async def save(self, sender: str, state: str, ttl_s: int) -> None:
        self.states[sender] = state


async def test_each_lease_carries_a_larger_fencing_token(journal: Journal) -> None:
    await journal.record("c1", "k1", 60, message(1))
    tokens = []
    for _ in range(3):
        lease = await journal.take("c1")
        assert lease is not None
        tokens.append(int(lease.token))
        await journal.hand_back(lease)
    assert tokens == sorted(tokens) and len(set(tokens)) == 3


async def test_a_paused_worker_past_its_lease_can_neither_save_nor_remove_the_message(journal: Journal) -> None:
    """Worker A takes the conversation and stalls past its lease; B takes over and answers the
    message. A's late commit is refused: B's state stands, and A removes nothing."""
    await journal.record("c1", "k1", 60, message(1))
    await journal.record("c1", "k2", 60, message(2))
    stale = await journal.take("c1")
    assert stale is not None
    [first, _] = await journal.entries(stale)
    await journal.hand_back(stale)  # as if its lease had lapsed (the Redis variant also lets one expire below)
    fresh = await journal.take("c1")
    assert fresh is not None and int(fresh.token) > int(stale.token)
    client = getattr(journal, "_redis", None)
    store = Store(getattr(journal, "_prefix", ""))
    await journal.save_conversation(Claim(fresh, first), store, NewState("c1", "B's state", 60))
    with pytest.raises(LeaseLost):
        await journal.save_conversation(Claim(stale, first), store, NewState("c1", "A's stale state", 60))
    with pytest.raises(LeaseLost):
        await journal.done(stale, (await journal.entries(fresh))[0])
    assert [e.payload for e in await journal.entries(fresh)] == [message(2)]  # B removed 1; A removed nothing
    if client is not None:
        assert await client.get(store.key("c1")) == "B's state"
    else:
        assert store.states == {"c1": "B's state"}


class Replies:
    """A turn's writes that go with its commit (bot.storage.inbound.CommitsWith): on Redis, a list
    the transaction appends to; in memory, a count of the writes made on their own."""

    def __init__(self, key: str, journal: Journal) -> None:
        self.key, self.journal = key, journal
        self.answers: list[Any] = []
        self.tries = 0
        self.alone_made = 0
        self.renew: Any = None  # a lease to renew, once, from another connection mid-commit

    async def within(self, transaction: Any) -> None:
        self.tries += 1
        if self.renew is not None:
            assert await self.journal.renew(self.renew)
            self.renew = None
        transaction.rpush(self.key, "reply")

    def committed(self, answer: Any) -> None:
        self.answers.append(answer)

    async def alone(self) -> None:
        self.alone_made += 1


async def test_a_turns_replies_are_written_with_its_commit_or_not_at_all(journal: Journal) -> None:
    """A server killed between queueing a turn's replies and saving its state would leave replies
    that the turn's second run (by another server) may not give: so they are one write."""
    await journal.record("c1", "k1", 60, message(1))
    stale = await journal.take("c1")
    assert stale is not None
    [entry] = await journal.entries(stale)
    await journal.hand_back(stale)
    fresh = await journal.take("c1")
    assert fresh is not None
    prefix = getattr(journal, "_prefix", "")
    store, replies = Store(prefix), Replies(f"{prefix}replies", journal)
    client = getattr(journal, "_redis", None)
    with pytest.raises(LeaseLost):
        await journal.save_conversation(Claim(stale, entry), store, NewState("c1", "A's state", 60, True, replies))
    if client is not None:
        assert await client.llen(replies.key) == 0 and replies.answers == []
    else:
        assert replies.alone_made == 0
    await journal.save_conversation(Claim(fresh, entry), store, NewState("c1", "B's state", 60, True, replies))
    if client is not None:
        assert await client.llen(replies.key) == 1 and replies.answers == [1]
    else:
        assert replies.alone_made == 1
    assert await journal.entries(fresh) == []  # the message went with them


async def test_a_lease_renewed_mid_commit_makes_the_commit_look_again_and_write_once_on_redis() -> None:
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"test-inbound-{uuid.uuid4().hex}:"
    journal = RedisJournal(client, prefix)
    try:
        await journal.record("c1", "k1", 60, message(1))
        lease = await journal.take("c1")
        assert lease is not None
        replies = Replies(f"{prefix}replies", journal)
        replies.renew = lease  # this worker's own renewal, between the lease's check and the write
        await journal.save_conversation(
            Claim(lease, lease.waiting[0]), Store(prefix), NewState("c1", "state", 60, True, replies)
        )
        assert replies.tries == 2 and replies.answers == [1]
        assert await client.llen(replies.key) == 1 and await client.get(f"{prefix}conversation:c1") == "state"
    finally:
        async for key in client.scan_iter(f"{prefix}*"):
            await client.delete(key)
        await client.close()


async def test_a_lease_that_expired_fences_out_its_holder_on_redis() -> None:
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    prefix = f"test-inbound-{uuid.uuid4().hex}:"
    journal = RedisJournal(client, prefix, lease_ms=100)
    try:
        await journal.record("c1", "k1", 60, message(1))
        lease = await journal.take("c1")
        assert lease is not None
        [entry] = await journal.entries(lease)
        await asyncio.sleep(0.2)  # paused past the lease; nobody took it yet
        store = Store(prefix)
        with pytest.raises(LeaseLost):
            await journal.save_conversation(Claim(lease, entry), store, NewState("c1", "late", 60))
        assert await client.get(store.key("c1")) is None
        assert len(await client.xrange(f"{prefix}inbound:c1")) == 1  # still there for the next owner
    finally:
        async for key in client.scan_iter(f"{prefix}*"):
            await client.delete(key)
        await client.close()


async def test_a_turn_sees_its_claim_and_its_key_is_the_messages_dedupe_key(journal: Journal) -> None:
    seen: list[tuple[str, str]] = []

    async def handler(payload: dict[str, Any]) -> None:
        claim = CLAIM.get()
        assert claim is not None
        seen.append((claim.key, claim.entry.payload["n"]))

    worker = Worker(journal, renew_every_s=0.1)
    worker.handlers["sms"] = handler
    for n in (1, 2):
        await journal.record("c1", f"sms:c1:SM{n}", 60, message(n))
    worker.start("c1")
    await until(lambda: len(seen) == 2)
    assert seen == [("sms:c1:SM1", 1), ("sms:c1:SM2", 2)]
    assert CLAIM.get() is None  # not outside the turn


async def test_a_worker_whose_lease_was_lost_mid_turn_stops_and_the_new_owner_answers(journal: Journal) -> None:
    answered: list[tuple[str, int]] = []

    async def lose_then_answer(payload: dict[str, Any]) -> None:
        claim = CLAIM.get()
        assert claim is not None
        if not answered:  # the first worker stalls: its lease goes to another
            await journal.hand_back(claim.lease)
            other = await journal.take("c1")
            assert other is not None
            await journal.done(other, claim.entry)
            answered.append(("other", payload["n"]))
            await journal.hand_back(other)
            return
        answered.append(("first", payload["n"]))

    worker = Worker(journal, renew_every_s=0.1)
    worker.handlers["sms"] = lose_then_answer
    await journal.record("c1", "k1", 60, message(1))
    worker.start("c1")
    await until(lambda: bool(answered))
    await asyncio.sleep(0.2)
    assert answered == [("other", 1)]  # the first worker's finish was refused: it did not go on


async def test_a_turn_answered_in_its_request_waits_for_the_lease_another_server_holds(journal: Journal) -> None:
    held = await journal.take("web-1")
    assert held is not None
    assert await hold_for_request(journal, "web-1", wait_s=0.1) is None  # not had in time
    waiting = asyncio.ensure_future(hold_for_request(journal, "web-1", wait_s=5))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await journal.hand_back(held)
    claim = await asyncio.wait_for(waiting, 2)
    assert claim is not None and int(claim.lease.token) > int(held.token)
    store = Store(getattr(journal, "_prefix", ""))
    await journal.save_conversation(claim, store, NewState("web-1", "state", 60))  # fenced, with no message to remove
    with pytest.raises(LeaseLost):
        await journal.save_conversation(Claim(held, claim.entry), store, NewState("web-1", "stale", 60))


async def test_a_save_before_the_message_is_answered_keeps_it_for_whoever_answers_it(journal: Journal) -> None:
    """Rasa saves a new conversation before it reads the message: a server killed right after
    must leave the message in the journal (it was lost so: 13 of 50 SMS in the fault suite)."""
    await journal.record("c1", "k1", 60, message(1))
    lease = await journal.take("c1")
    assert lease is not None
    [entry] = await journal.entries(lease)
    store = Store(getattr(journal, "_prefix", ""))
    await journal.save_conversation(Claim(lease, entry), store, NewState("c1", "new, empty", 60, answered=False))
    assert [e.payload for e in await journal.entries(lease)] == [message(1)]
    await journal.save_conversation(Claim(lease, entry), store, NewState("c1", "answered", 60))
    assert await journal.entries(lease) == []


async def test_with_one_turn_at_a_time_a_message_recorded_urgent_is_answered_before_earlier_calm_ones(
    journal: Journal,
) -> None:
    order: list[str] = []
    release = asyncio.Event()

    async def handler(payload: dict[str, Any]) -> None:
        if payload["n"] == 0:
            await release.wait()
        order.append(payload["who"])

    worker = Worker(journal, renew_every_s=0.1, gate=TurnGate(1))
    worker.handlers["sms"] = handler
    for n, (who, urgent) in enumerate([("busy", False), ("calm-1", False), ("calm-2", False), ("crisis", True)]):
        await journal.record(who, f"k-{who}", 60, {"channel": "sms", "n": n, "who": who, "urgent": urgent})
        worker.start(who)
        await asyncio.sleep(0.05)  # each waits for the gate, in this order
    release.set()
    await until(lambda: len(order) == 4)
    assert order == ["busy", "crisis", "calm-1", "calm-2"]


async def test_a_message_of_a_channel_this_server_does_not_run_is_left_for_one_that_does(journal: Journal) -> None:
    telegram_only = Worker(journal, renew_every_s=0.1)
    telegram_only.handlers["telegram"] = Recorder()
    await journal.record("c1", "k1", 60, message(1))  # an SMS
    telegram_only.start("c1")
    await asyncio.sleep(0.2)
    lease = await journal.take("c1")  # handed back at once, not removed
    assert lease is not None and [e.payload for e in await journal.entries(lease)] == [message(1)]
    await journal.hand_back(lease)
    handler = Recorder()
    worker_for(journal, handler).start("c1")  # a server that runs SMS
    await until(lambda: handler.answered == [1])


async def test_a_message_recorded_while_its_worker_lets_the_conversation_go_is_answered_at_once(
    journal: Journal,
) -> None:
    """The worker released the lease (the stream was empty) and its task had not ended yet when the
    next message came: before, that message waited for the sweep (a second or two)."""
    handler = Recorder()
    worker = worker_for(journal, handler)
    real_release = journal.release

    async def release_then_a_message_arrives(lease: Any) -> bool:
        released = await real_release(lease)
        if released and handler.answered == [1]:
            await journal.record("c1", "k2", 60, message(2))
            worker.start("c1")  # the webhook's accept, while the draining task is still alive
        return released

    journal.release = release_then_a_message_arrives  # type: ignore[method-assign]
    await journal.record("c1", "k1", 60, message(1))
    worker.start("c1")
    await until(lambda: handler.answered == [1, 2], timeout_s=0.5)  # not the sweep: nobody runs it here


class Counting:
    """A journal that counts the calls made of it (each a Redis round trip on Redis)."""

    def __init__(self, journal: Journal) -> None:
        self.journal, self.calls = journal, Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.journal, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await method(*args, **kwargs)

        return counted


async def test_a_turn_that_saves_the_conversation_costs_three_journal_calls(journal: Journal) -> None:
    """Take the lease with the message, save the new state with the message's removal, let go:
    nothing read or removed twice."""
    store = Store(getattr(journal, "_prefix", ""))
    counting = Counting(journal)

    async def answer(payload: dict[str, Any]) -> None:
        claim = CLAIM.get()
        assert claim is not None
        await counting.save_conversation(claim, store, NewState("c1", f"after {payload['n']}", 60))

    worker = Worker(counting, renew_every_s=10)  # type: ignore[arg-type]
    worker.handlers["sms"] = answer
    await journal.record("c1", "k1", 60, message(1))
    worker.start("c1")
    await until(lambda: counting.calls["release"] == 1)
    assert counting.calls == {"take": 1, "save_conversation": 1, "release": 1}
    lease = await journal.take("c1")  # let go, and nothing left to answer
    assert lease is not None and await journal.entries(lease) == []
