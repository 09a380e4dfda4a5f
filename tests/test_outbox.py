"""The outbox (bot.delivery): every message the server sends a child on its own is sent at least
once, in order per child, exactly once when nothing dies mid-send, and its fate is told.

Real Redis (each test its own key prefix, removed afterwards) and the memory twin where both
apply; the real python-telegram-bot and twilio clients against the fake APIs, switched into
failure while the sender runs; a sender process killed mid-outage."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
import uuid
from typing import Any, AsyncIterator, Callable, Optional, Sequence

import pytest
import redis.asyncio as aioredis
from telegram import Bot
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot import PROJECT_ROOT
from bot.delivery.attempt import BLOCKED, NOT_A_NUMBER, TOO_OLD, UNREACHABLE, Attempt
from bot.delivery.outbox import Message, Outbox, RedisOutbox, State
from bot.delivery.policy import Policy
from bot.delivery.sender import Sender
from bot.delivery.transports import TelegramTransport, Transport, TwilioTransport
from bot.handoff.queue import MemoryHandoffQueue, RedisHandoffQueue, Risk, Ticket
from bot.storage.stores import AddressBook, MemoryAddressBook, RedisAddressBook
from scripts.fake_apis import TELEGRAM_TOKEN, TWILIO_SID, TWILIO_TOKEN, FakeTelegram, FakeTwilio

REDIS_URL = "redis://127.0.0.1:6379/0"
SENDS = "/sendMessage"


class Place:
    """One backend for a test: the outbox (the handoff queue's), its address book, and cleanup."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.prefix = f"test-outbox-{uuid.uuid4().hex}:"
        self.client: Optional[aioredis.Redis] = None
        self.addresses: AddressBook
        if backend == "redis":
            self.client = aioredis.from_url(REDIS_URL, decode_responses=True)
            self.queue: Any = RedisHandoffQueue(self.client, self.prefix + "handoff:")
            self.addresses = RedisAddressBook(self.client, self.prefix)
        else:
            self.queue = MemoryHandoffQueue()
            self.addresses = MemoryAddressBook()
        self.outbox: Outbox = self.queue.outbox
        self.senders: list[tuple[Sender, asyncio.Task]] = []
        self.closing: list[Callable[[], Any]] = []  # async, after the senders

    def sender(
        self, consumer: str, transports: dict[str, Transport], claim_idle_s: float = 1.0, **policy: Any
    ) -> Sender:
        """A sender, running, stopped at the end of the test."""
        sender = Sender(self.outbox, Policy(rng=random.Random(1), **policy), consumer, claim_idle_s, transports)
        self.senders.append((sender, asyncio.ensure_future(sender.run())))
        return sender

    async def close(self) -> None:
        for sender, task in self.senders:
            await sender.stop(1)
            await asyncio.wait_for(task, 5)
        for close in self.closing:
            await close()
        if self.client is not None:
            async for key in self.client.scan_iter(f"{self.prefix}*"):
                await self.client.delete(key)
            await self.client.close()


@pytest.fixture(params=["redis", "memory"])
async def place(request: pytest.FixtureRequest) -> AsyncIterator[Place]:
    made = Place(request.param)
    yield made
    await made.close()


@pytest.fixture
async def on_redis() -> AsyncIterator[Place]:
    made = Place("redis")
    yield made
    await made.close()


@pytest.fixture
def telegram() -> Any:
    api = FakeTelegram()
    yield api
    api.close()


@pytest.fixture
def twilio() -> Any:
    api = FakeTwilio()
    yield api
    api.close()


def telegram_transport(api: FakeTelegram, place: Place) -> TelegramTransport:
    return TelegramTransport(Bot(TELEGRAM_TOKEN, base_url=f"{api.url}/bot"), place.addresses)


def sms_transport(api: FakeTwilio, place: Place) -> TwilioTransport:
    http = AsyncTwilioHttpClient()
    place.closing.append(http.close)
    client = Client(TWILIO_SID, TWILIO_TOKEN, http_client=http)
    client.api.base_url = api.url
    status = "https://bot.example.org/webhooks/sms/status"
    return TwilioTransport(lambda: client, "+15005550006", "", lambda text: [text], status, place.addresses, "sms")


def to_chat(api: FakeTelegram, chat: int) -> list[str]:
    """The texts the fake Telegram took (200) for ``chat``, in the order it took them."""
    return [
        str(q["text"])
        for p, q, status, _ in api.log()
        if p.endswith(SENDS) and int(q["chat_id"]) == chat and status == 200
    ]


async def until(check: Callable[[], Any], timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return found


async def settled(outbox: Outbox, ids: Sequence[str], timeout_s: float = 15.0) -> dict[str, Any]:
    """The messages' states once none is queued any more."""
    deadline = time.monotonic() + timeout_s
    while True:
        states = await outbox.status(ids)
        if all(s.state is not State.QUEUED for s in states.values()) or time.monotonic() > deadline:
            return states
        await asyncio.sleep(0.05)


async def claimed_ticket(place: Place, conversation: str, channel: str = "telegram") -> Ticket:
    ticket = await place.queue.open(Ticket.new("NG", conversation, channel, "NG", "en", Risk.ASKED, "talk_to_human"))
    return await place.queue.claim(ticket.id, "amina")


# --- the policy ------------------------------------------------------------------------------


def test_backoff_doubles_from_one_second_to_two_minutes_and_draws_each_wait_below_its_bound():
    policy = Policy(rng=random.Random(3))
    assert [policy.bound(n) for n in range(1, 11)] == [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]
    for failures in (1, 4, 9):
        waits = [policy.delay(failures) for _ in range(4000)]
        bound = policy.bound(failures)
        assert 0 <= min(waits) < 0.01 * bound and 0.99 * bound < max(waits) <= bound  # full jitter: the whole range
        assert abs(sum(waits) / len(waits) - bound / 2) < 0.05 * bound


def test_a_wait_the_api_asked_for_is_never_shortened_and_an_hour_old_message_is_too_old():
    policy = Policy(rng=random.Random(5))
    waits = [policy.wait_after(Attempt.retry("flood", 7.0), failures=9) for _ in range(1000)]
    assert 7.0 <= min(waits) and max(waits) <= 8.0
    assert not policy.too_old(created_at=1000.0, now=1000.0 + 3599) and policy.too_old(1000.0, 1000.0 + 3600)


# --- order, dedupe, states ---------------------------------------------------------------------


async def test_an_idempotency_key_queues_a_counsellors_message_once(place: Place):
    ticket = await claimed_ticket(place, "child-k")
    await place.queue.reply(ticket.id, "amina", "Hello, I'm here.", key="key-0001")
    await place.queue.reply(ticket.id, "amina", "Hello, I'm here.", key="key-0001")  # a double click
    await place.queue.reply(ticket.id, "amina", "Hello, I'm here.", key="key-0002")  # written again, on purpose
    said = await place.queue.transcript(ticket.id)
    assert [(s.author, s.text) for s in said] == [("amina", "Hello, I'm here."), ("amina", "Hello, I'm here.")]
    assert len({s.delivery for s in said}) == 2
    assert [p.seq for p in await place.outbox.read("reader", block_ms=0)] == [1, 2]


@pytest.mark.servers
async def test_an_outage_keeps_messages_queued_then_sends_them_in_order_once(place: Place, telegram):
    await place.addresses.remember("child-o", "4101", 600)
    ticket = await claimed_ticket(place, "child-o")
    telegram.refuse_connections()
    place.sender("s1", {"telegram": telegram_transport(telegram, place)})
    for i in range(10):
        await place.queue.reply(ticket.id, "amina", f"message {i}", key=f"outage-{i:04}")
    await asyncio.sleep(2.5)
    ids = [s.delivery for s in await place.queue.transcript(ticket.id)]
    states = await place.outbox.status(ids)
    assert [s.state for s in states.values()] == [State.QUEUED] * 10
    assert states[ids[0]].attempts >= 2 and "could not be reached" in states[ids[0]].reason  # retried, told why
    assert all(states[i].attempts == 0 for i in ids[1:])  # nobody overtakes the first
    telegram.recover()
    await until(lambda: len(to_chat(telegram, 4101)) == 10, timeout_s=20)
    assert to_chat(telegram, 4101) == [f"message {i}" for i in range(10)]
    assert {s.state for s in (await settled(place.outbox, ids)).values()} == {State.SENT}


@pytest.mark.servers
async def test_telegrams_retry_after_is_honoured(place: Place, telegram):
    await place.addresses.remember("child-r", "4102", 600)
    telegram.flood(2, count=1)
    place.sender("s1", {"telegram": telegram_transport(telegram, place)})
    queued = await place.outbox.enqueue(Message("child-r", "telegram", "are you there?"))
    await until(lambda: to_chat(telegram, 4102) == ["are you there?"])
    times = [at for p, _, _, at in telegram.log() if p.endswith(SENDS)]
    assert telegram.statuses == [429, 200] and times[1] - times[0] >= 2.0
    assert (await place.outbox.status([queued.id]))[queued.id].state is State.SENT


@pytest.mark.servers
async def test_a_child_who_blocked_the_bot_fails_at_once_with_the_reason_and_the_console_is_told(
    place: Place, telegram
):
    await place.addresses.remember("child-b", "4103", 600)
    ticket = await claimed_ticket(place, "child-b")
    mark = await place.queue.last_event("NG")
    telegram.blocked()
    place.sender("s1", {"telegram": telegram_transport(telegram, place)})
    await place.queue.reply(ticket.id, "amina", "I'm still here for you.", key="blocked-01")
    [said] = await place.queue.transcript(ticket.id)
    states = await settled(place.outbox, [said.delivery])
    await asyncio.sleep(1.5)  # would-be retries
    assert states[said.delivery].state is State.FAILED and states[said.delivery].reason == BLOCKED == (
        "the child blocked the bot"
    )
    assert telegram.statuses == [403]  # one attempt, no retry
    events = await place.queue.events("NG", mark)
    assert [(e.kind, e.ticket) for e in events] == [("message", ticket.id), ("delivery", ticket.id)]
    assert events[0].entry == events[1].entry  # the delivery names the message


@pytest.mark.servers
async def test_twilios_permanent_errors_fail_the_message_and_its_delivery_reports_are_recorded(on_redis: Place, twilio):
    place = on_redis
    await place.addresses.remember("child-s", "+2348000000001", 600)
    place.sender("s1", {"sms": sms_transport(twilio, place)})
    twilio.error(21211, count=1)
    refused = await place.outbox.enqueue(Message("child-s", "sms", "first"))
    sent = await place.outbox.enqueue(Message("child-s", "sms", "second"))
    states = await settled(place.outbox, [refused.id, sent.id])
    assert (states[refused.id].state, states[refused.id].reason) == (State.FAILED, NOT_A_NUMBER)
    assert states[sent.id].state is State.SENT and twilio.statuses == [400, 201]
    taken = twilio.calls[-1][1]
    assert taken["Body"] == "second" and taken["StatusCallback"] == "https://bot.example.org/webhooks/sms/status"
    sid = f"SM{1:032d}"  # the fake's SID for its second call
    assert await place.outbox.report(sid, State.DELIVERED) is True
    assert (await place.outbox.status([sent.id]))[sent.id].state is State.DELIVERED
    # A report that comes before the message is noted sent is kept for it; a later failure report tells why.
    assert await place.outbox.report(f"SM{2:032d}", State.FAILED, UNREACHABLE) is False
    third = await place.outbox.enqueue(Message("child-s", "sms", "third"))
    states = await settled(place.outbox, [third.id])
    assert (states[third.id].state, states[third.id].reason) == (State.FAILED, UNREACHABLE)


@pytest.mark.servers
async def test_reports_of_every_part_that_came_before_the_send_was_recorded_make_it_delivered(on_redis: Place, twilio):
    place = on_redis
    await place.addresses.remember("child-p", "+2348000000002", 600)
    transport = sms_transport(twilio, place)
    transport._parts = lambda text: text.split("|")  # two SMS for one message
    first, second = f"SM{0:032d}", f"SM{1:032d}"  # the fake's SIDs for its first two calls
    assert await place.outbox.report(first, State.DELIVERED) is False  # no record of them yet: kept
    assert await place.outbox.report(second, State.DELIVERED) is False
    place.sender("s1", {"sms": transport})
    queued = await place.outbox.enqueue(Message("child-p", "sms", "part one|part two"))
    await until(lambda: len(twilio.calls) == 2)
    for _ in range(100):  # sent, then made delivered by the reports it found kept
        state = (await place.outbox.status([queued.id]))[queued.id].state
        if state is State.DELIVERED:
            break
        await asyncio.sleep(0.05)
    assert state is State.DELIVERED
    assert [c[1]["Body"] for c in twilio.calls] == ["part one", "part two"]


@pytest.mark.servers
async def test_a_message_not_sent_within_the_max_age_fails_as_too_old(place: Place, telegram):
    await place.addresses.remember("child-t", "4104", 600)
    telegram.down()
    place.sender("s1", {"telegram": telegram_transport(telegram, place)}, max_age_s=2.0)
    queued = await place.outbox.enqueue(Message("child-t", "telegram", "late"))
    states = await settled(place.outbox, [queued.id])
    assert (states[queued.id].state, states[queued.id].reason) == (State.FAILED, TOO_OLD)
    assert set(telegram.statuses) == {503}


class Recording:
    """A transport that notes which sender sent what to whom, after a short random pause."""

    def __init__(self, sender: str, log: list[tuple[str, str, str]]) -> None:
        self.sender, self.log = sender, log

    async def send(self, conversation: str, text: str, buttons: Sequence[tuple[str, str]]) -> Attempt:
        await asyncio.sleep(random.uniform(0, 0.01))
        self.log.append((self.sender, conversation, text))
        return Attempt.sent()


async def test_two_senders_keep_each_childs_order_and_send_each_message_once(place: Place):
    children = ("c1", "c2", "c3")
    for n in range(15):
        for child in children:
            await place.outbox.enqueue(Message(child, "web", f"{child} {n}"))
    for turn in range(45):  # dealt one by one, in turn: each child's messages are split between the senders
        assert len(await place.outbox.read("ab"[turn % 2], block_ms=0, count=1)) == 1
    log: list[tuple[str, str, str]] = []
    place.sender("a", {"web": Recording("a", log)})
    place.sender("b", {"web": Recording("b", log)})
    await until(lambda: len(log) == 45)
    await asyncio.sleep(0.3)
    assert len(log) == 45
    for child in children:
        assert [text for _, to, text in log if to == child] == [f"{child} {n}" for n in range(15)]
    assert {sender for sender, _, _ in log} == {"a", "b"}  # both sent: the order held across them


async def test_a_dead_senders_entries_are_taken_over_after_the_idle_time(place: Place):
    for n in range(3):
        await place.outbox.enqueue(Message("c-dead", "web", f"m{n}"))
    taken = await place.outbox.read("dead-server", block_ms=0)  # then it died, acknowledging nothing
    assert [p.seq for p in taken] == [1, 2, 3]
    log: list[tuple[str, str, str]] = []
    started = time.monotonic()
    place.sender("alive", {"web": Recording("alive", log)}, claim_idle_s=1.0)
    await until(lambda: len(log) == 3)
    assert time.monotonic() - started >= 0.9  # not before the idle time
    assert [text for _, _, text in log] == ["m0", "m1", "m2"]
    assert await place.outbox.own("dead-server") == [] and await place.outbox.own("alive") == []


@pytest.mark.servers
async def test_a_stopping_sender_hands_its_messages_back_at_once(on_redis: Place, telegram):
    place = on_redis
    await place.addresses.remember("child-h", "4105", 600)
    telegram.down()
    first = place.sender("first", {"telegram": telegram_transport(telegram, place)}, claim_idle_s=30)
    ids = [(await place.outbox.enqueue(Message("child-h", "telegram", f"h{n}"))).id for n in range(3)]
    await until(lambda: len(telegram.statuses) >= 1)
    assert await first.stop(2) == 3  # held, in backoff: handed back
    telegram.recover()
    started = time.monotonic()
    place.sender("second", {"telegram": telegram_transport(telegram, place)}, claim_idle_s=30)
    await until(lambda: len(to_chat(telegram, 4105)) == 3)
    assert time.monotonic() - started < 5  # far within the 30 s idle time
    assert to_chat(telegram, 4105) == ["h0", "h1", "h2"]
    assert {s.state for s in (await settled(place.outbox, ids)).values()} == {State.SENT}


@pytest.mark.servers
async def test_a_sender_process_killed_mid_outage_loses_nothing_and_sends_nothing_twice(on_redis: Place, telegram):
    """The issue's case: the API down while a counsellor writes 10 messages, the sending process
    dies, another starts: 10 of 10 arrive, in order, once each."""
    place = on_redis
    await place.addresses.remember("child-x", "4106", 600)
    ticket = await claimed_ticket(place, "child-x")
    telegram.refuse_connections()
    command = [sys.executable, "-m", "tests.outbox_sender", place.prefix, telegram.url, "doomed", "2"]
    doomed = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert doomed.stdout is not None and doomed.stdout.readline().strip() == "ready"
        for i in range(10):
            await place.queue.reply(ticket.id, "amina", f"message {i}", key=f"killed-{i:04}")
        ids = [s.delivery for s in await place.queue.transcript(ticket.id)]
        await asyncio.sleep(3)  # the outage: the first message is tried, and tried again
        assert (await place.outbox.status(ids[:1]))[ids[0]].attempts >= 2
    finally:
        doomed.kill()  # no shutdown: its entries stay pending in its name
        doomed.wait()
    telegram.recover()
    command[5] = "successor"
    successor = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        await until(lambda: len(to_chat(telegram, 4106)) == 10, timeout_s=45)
        await asyncio.sleep(1)  # anything sent twice would arrive now
        assert to_chat(telegram, 4106) == [f"message {i}" for i in range(10)]
        assert {s.state for s in (await settled(place.outbox, ids)).values()} == {State.SENT}
    finally:
        successor.terminate()
        successor.wait(timeout=20)


async def test_erasing_a_child_removes_their_messages_and_states(on_redis: Place):
    place = on_redis
    ticket = await claimed_ticket(place, "child-e")
    await place.queue.reply(ticket.id, "amina", "something private", key="erase-001")
    await place.queue.erase("child-e")
    assert place.client is not None
    left = [key async for key in place.client.scan_iter(f"{place.prefix}handoff:outbox:*")]
    assert left == []
    taken = await place.outbox.read("after", block_ms=0)
    log: list[tuple[str, str, str]] = []
    place.sender("after", {"telegram": Recording("after", log)})
    await asyncio.sleep(0.5)
    assert len(taken) == 1 and log == [] and await place.outbox.own("after") == []  # acknowledged, never sent


async def test_senders_long_silent_and_holding_nothing_are_forgotten(on_redis: Place):
    outbox, client = on_redis.queue.outbox, on_redis.client
    assert client is not None
    await outbox.enqueue(Message("c-prune", "web", "kept for its sender"))
    await outbox.read("holder", block_ms=0)
    await client.xgroup_createconsumer(outbox.stream, "senders", "restarted-long-ago")
    await asyncio.sleep(0.2)
    assert await outbox.prune(100) == 1
    assert [c["name"] for c in await client.xinfo_consumers(outbox.stream, "senders")] == ["holder"]  # it holds one


# --- a turn's replies --------------------------------------------------------------------------


async def test_a_turns_replies_are_queued_once_per_key_and_handed_to_the_server_that_answered(place: Place):
    replies = [Message("c-turn", "web", f"reply {n}", key=f"sms:c-turn:SM1:{n}") for n in range(3)]
    taken = await place.outbox.enqueue_replies(replies, "answering-server")
    assert [(p.conversation, p.seq) for p in taken] == [("c-turn", 1), ("c-turn", 2), ("c-turn", 3)]
    assert await place.outbox.read("another-server", block_ms=0) == []  # already this server's
    again = await place.outbox.enqueue_replies(replies[:2], "another-server")  # the turn handled again
    assert again == []
    log: list[tuple[str, str, str]] = []
    sender = place.sender("answering-server", {"web": Recording("answering-server", log)})
    sender.offer(taken)
    await until(lambda: len(log) == 3)
    await asyncio.sleep(0.3)
    assert [text for _, _, text in log] == ["reply 0", "reply 1", "reply 2"]


async def test_a_turns_replies_queued_in_a_transaction_are_queued_only_when_it_is_written(on_redis: Place):
    outbox, client = on_redis.queue.outbox, on_redis.client
    assert client is not None and isinstance(outbox, RedisOutbox)
    replies = [Message("c-tx", "web", f"reply {n}", key=f"sms:c-tx:SM1:{n}") for n in range(2)]
    async with client.pipeline(transaction=True) as transaction:
        transaction.multi()
        await outbox.enqueue_replies_in(transaction, replies, "answering-server")
        await transaction.reset()  # not written (the turn's lease was lost)
    assert await outbox.enqueue_replies(replies[:1], "x") != []  # nothing of it was queued: key 0 is new
    async with client.pipeline(transaction=True) as transaction:
        transaction.multi()
        transaction.set(f"{outbox.stream}-state", "the turn's state")
        await outbox.enqueue_replies_in(transaction, replies, "answering-server")
        answers = await transaction.execute()
    taken = outbox.replies_taken(answers[-1])
    assert [(p.conversation, p.seq) for p in taken] == [("c-tx", 2)]  # key 0 was queued just above
    await client.delete(f"{outbox.stream}-state")


async def test_a_counsellors_message_and_the_bots_replies_go_out_in_the_order_they_were_queued(place: Place):
    await place.outbox.enqueue(Message("c-mix", "web", "counsellor 1"))
    taken = await place.outbox.enqueue_replies([Message("c-mix", "web", "bot 1", key="t1:0")], "a")
    await place.outbox.enqueue(Message("c-mix", "web", "counsellor 2"))
    log: list[tuple[str, str, str]] = []
    place.sender("b", {"web": Recording("b", log)})  # reads both counsellor messages
    sender_a = place.sender("a", {"web": Recording("a", log)})
    sender_a.offer(taken)
    await until(lambda: len(log) == 3)
    assert [text for _, _, text in log] == ["counsellor 1", "bot 1", "counsellor 2"]


class SlowToKeep:
    """The outbox, with the sender's periodic "still mine" call taking a moment, as it does on a
    busy server: replies offered meanwhile must not be dropped when its answer comes back."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.keeping = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.outbox, name)

    async def keep(self, consumer: str, entries: Sequence[str]) -> set[str]:
        self.keeping.set()
        await asyncio.sleep(0.3)
        return await self.outbox.keep(consumer, entries)


async def test_replies_offered_while_the_sender_checks_what_it_holds_are_still_sent(place: Place):
    """The child's earlier message is with another server's sender, so this turn's replies wait
    (not under way) while this sender's check runs; they go out after it, long before any takeover."""
    await place.outbox.enqueue(Message("c-keep", "web", "counsellor 1"))
    assert len(await place.outbox.read("b", block_ms=0)) == 1
    log: list[tuple[str, str, str]] = []
    slow = SlowToKeep(place.outbox)
    sender = Sender(slow, Policy(rng=random.Random(1)), "a", 60, {"web": Recording("a", log)})  # type: ignore[arg-type]
    place.senders.append((sender, asyncio.ensure_future(sender.run())))
    await slow.keeping.wait()
    taken = await place.outbox.enqueue_replies([Message("c-keep", "web", "bot 1", key="t1:0")], "a")
    sender.offer(taken)
    await asyncio.sleep(0.5)  # the check came back meanwhile
    place.sender("b", {"web": Recording("b", log)}, claim_idle_s=60)  # no takeover within the test
    await until(lambda: len(log) == 2, timeout_s=5)
    assert [text for _, _, text in log] == ["counsellor 1", "bot 1"]
