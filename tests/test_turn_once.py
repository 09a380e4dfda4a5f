"""A turn that another server runs again (it died after the action ran, before the tracker was
saved) has its side effects once per turn key (bot.storage.turns): statistics counted once, one
ticket (one queue entry, one event for consoles and partner webhooks) with the same messages to the
child, the child's message written to the counsellor once. Without a key, everything is as before.
On the in-memory stores and on the real Redis, each test under its own key prefix."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any, AsyncIterator, Callable
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from bot.conversation.relay import Relay
from bot.handoff.desks import Desk, Desks, HandoffRequest
from bot.handoff.queue import MemoryHandoffQueue, RedisHandoffQueue, Risk, State, Ticket
from bot.routing.opening_hours import Hours
from bot.stats import recorder
from bot.stats.counters import ContactEvent, HandoffEvent, MemoryStats, RedisStats, week_of
from bot.storage.turns import TURN_KEPT_S, mark, turn_of
from tests.conftest import rebuilt
from tests.redis_keys import drop_and_close

REDIS_URL = "redis://127.0.0.1:6379/0"
DESK = Desk("NG", "Test desk NG", 10)
OFFICE = Desk("NG", "Test desk NG", 10, Hours.parse({"mon-fri": "08:00-17:00"}), ZoneInfo("Africa/Lagos"))
SATURDAY = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc).timestamp()  # counsellors away
ASKED = HandoffRequest(Risk.ASKED, "talk_to_human")
TURN = "sms:hashed-sender:SM0001"


@pytest.fixture(params=["memory", "redis"])
async def store(request) -> AsyncIterator[tuple[str, Any, str]]:
    """(kind, a Redis client or None, a unique key prefix whose keys are removed afterwards)."""
    prefix = f"test-turn-once:{uuid.uuid4().hex}:"
    if request.param == "memory":
        yield "memory", None, prefix
        return
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        yield "redis", client, prefix
    finally:
        await drop_and_close(client, prefix)


@pytest.fixture
def relay_for(store, dialogue) -> Callable[..., Relay]:
    kind, client, prefix = store

    def make(desk: Desk = DESK) -> Relay:
        with_desk = rebuilt(dialogue, desks=Desks({desk.helpline: desk}))
        queue = MemoryHandoffQueue() if kind == "memory" else RedisHandoffQueue(client, prefix)
        return Relay(with_desk, queue)

    return make


def texts(messages) -> list[str]:
    return [m.text for m in messages]


# -- the turn key ---------------------------------------------------------------------------------


def test_the_turn_key_comes_from_the_metadata_and_is_kept_only_as_a_digest():
    assert turn_of({"turn": TURN, "channel": "sms"}) == TURN
    assert turn_of(None) == turn_of({}) == turn_of({"turn": 7}) == turn_of({"turn": ""}) == ""
    assert turn_of({"turn": "x" * 10_000}) == ""  # not a channel's key
    assert mark(TURN) == mark(TURN) != mark(TURN + "2")
    assert "hashed-sender" not in mark(TURN) and "SM0001" not in mark(TURN)


# -- statistics -----------------------------------------------------------------------------------


@pytest.fixture
def stats(store):
    kind, client, prefix = store
    return recorder(MemoryStats() if kind == "memory" else RedisStats(client, prefix))


async def counted(stats) -> dict:
    return await stats.counter.week(week_of(dt.datetime.now(dt.timezone.utc)))


def cells(need: int, conversations: int) -> dict:
    week = week_of(dt.datetime.now(dt.timezone.utc))
    found = {ContactEvent(week, "KE", "sms", "sw", "self_harm", "imminent", "bot_answered"): need}
    if conversations:
        found[HandoffEvent(week, "KE", "sms", "conversations")] = conversations
    return found


async def test_a_turn_run_again_is_counted_once(stats):
    for _ in range(2):
        await stats.record_turn("self_harm", Risk.IMMINENT, "KE", "sw", "sms", None, TURN)
    assert await counted(stats) == cells(1, 1)  # the need and the new conversation, both once


async def test_turns_with_different_keys_are_each_counted(stats):
    await stats.record_turn("self_harm", Risk.IMMINENT, "KE", "sw", "sms", None, TURN)
    await stats.record_turn("self_harm", Risk.IMMINENT, "KE", "sw", "sms", "KE", TURN + "-next")
    assert await counted(stats) == cells(2, 1)


async def test_turns_without_a_key_are_counted_as_before(stats):
    for _ in range(2):
        await stats.record_turn("self_harm", Risk.IMMINENT, "KE", "sw", "sms", None)
    assert await counted(stats) == cells(2, 2)


async def test_two_servers_counting_the_same_turn_at_once_count_it_once(stats):
    await asyncio.gather(
        *(stats.record_turn("self_harm", Risk.IMMINENT, "KE", "sw", "sms", None, TURN) for _ in range(10))
    )
    assert await counted(stats) == cells(1, 1)


async def test_the_statistics_marker_names_no_one_and_lasts_a_day(store, stats):
    kind, client, prefix = store
    if kind == "memory":
        pytest.skip("nothing to look at outside Redis")
    await stats.record_turn("self_harm", Risk.IMMINENT, "KE", "sw", "sms", None, TURN)
    markers = [key async for key in client.scan_iter(match=f"{prefix}stats:turn:*")]
    assert markers == [f"{prefix}stats:turn:{mark(TURN)}"]
    assert TURN_KEPT_S - 60 < await client.ttl(markers[0]) <= TURN_KEPT_S
    assert await client.get(markers[0]) == "1"


# -- opening a ticket -----------------------------------------------------------------------------


async def events(relay: Relay) -> list[tuple[str, str]]:
    return [(e.kind, e.ticket) for e in await relay.queue.events("NG", "0")]


async def test_a_handoff_run_again_opens_one_ticket_and_tells_the_child_the_same(relay_for):
    relay = relay_for()
    first = await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", ("a person please",), turn=TURN)
    ticket = await relay.queue.active("sms-1")
    seen = await events(relay)
    other = await relay.hand_off(DESK, ASKED, "sms-2", "sms", "en", ())  # another child joins the line
    assert other
    again = await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", ("a person please",), turn=TURN)
    assert again == first and len(first) == 2  # the place in line and the first intake question
    assert [t.id for t in await relay.queue.waiting("NG")] == [ticket.id, (await relay.queue.active("sms-2")).id]
    after = [e for e in await events(relay) if e[1] == ticket.id]
    assert after == [e for e in seen if e[1] == ticket.id]  # no second "opened", no "changed": no webhook twice
    assert (await relay.queue.get(ticket.id)).history == ticket.history


async def test_a_handoff_run_again_after_its_ticket_closed_opens_no_other(relay_for):
    relay = relay_for()
    first = await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", (), turn=TURN)
    ticket = await relay.queue.active("sms-1")
    await relay.queue.close(ticket.id, "child_left")
    assert await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", (), turn=TURN) == first
    assert await relay.queue.active("sms-1") is None and await relay.queue.waiting("NG") == []

    await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", (), turn=TURN + "-next")  # a later message: new ticket
    second = await relay.queue.active("sms-1")
    assert second is not None and second.id != ticket.id
    assert [kind for kind, _ in await events(relay) if kind == "opened"] == ["opened", "opened"]


async def test_a_handoff_without_a_key_is_as_before(relay_for):
    relay = relay_for()
    await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", ())
    ticket = await relay.queue.active("sms-1")
    await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", ())  # the open ticket is found
    assert await relay.queue.active("sms-1") == await relay.queue.get(ticket.id)
    await relay.queue.close(ticket.id, "child_left")
    await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", ())
    assert (await relay.queue.active("sms-1")).id != ticket.id  # a new one


async def test_a_handoff_while_counsellors_are_away_run_again_reminds_once(relay_for):
    relay = relay_for(OFFICE)
    first = await relay.hand_off(OFFICE, ASKED, "sms-1", "sms", "en", (), SATURDAY, turn=TURN)
    ticket = await relay.queue.active("sms-1")
    assert ticket.reminded
    assert await relay.hand_off(OFFICE, ASKED, "sms-1", "sms", "en", (), SATURDAY, turn=TURN) == first
    assert [e for e in await events(relay) if e[0] == "changed"] == [("changed", ticket.id)]  # the one reminder


async def test_a_handoff_cut_short_after_its_ticket_opened_is_finished_as_if_new(relay_for):
    """The server died between opening the ticket and keeping what the child was told."""
    relay = relay_for(OFFICE)
    made = await relay.queue.open(Ticket.new("NG", "sms-1", "sms", "NG", "en", ASKED.risk, ASKED.reason), TURN)
    said = await relay.hand_off(OFFICE, ASKED, "sms-1", "sms", "en", (), SATURDAY, turn=TURN)
    assert said and (await relay.queue.active("sms-1")).id == made.id and (await relay.queue.get(made.id)).reminded
    assert await relay.hand_off(OFFICE, ASKED, "sms-1", "sms", "en", (), SATURDAY, turn=TURN) == said


# -- the child writes to the counsellor ----------------------------------------------------------


async def waiting_without_intake(relay: Relay, conversation: str) -> str:
    await relay.hand_off(DESK, HandoffRequest(Risk.IMMINENT, "self_harm"), conversation, "sms", "en", ())
    return (await relay.queue.active(conversation)).id  # imminent: no intake questions


async def test_a_message_handled_again_is_written_to_the_counsellor_once(relay_for):
    relay = relay_for()
    ticket = await waiting_without_intake(relay, "sms-1")
    assert await relay.child_wrote("sms-1", "are you there?", TURN) == []
    assert await relay.child_wrote("sms-1", "are you there?", TURN) == []
    assert await relay.queue.messages(ticket) == [("child", "are you there?")]
    assert [kind for kind, _ in await events(relay)].count("message") == 1


async def test_messages_with_different_keys_or_none_are_each_written(relay_for):
    relay = relay_for()
    ticket = await waiting_without_intake(relay, "sms-1")
    await relay.child_wrote("sms-1", "hello?", TURN)
    await relay.child_wrote("sms-1", "hello?", TURN + "-next")
    await relay.child_wrote("sms-1", "still there?")
    await relay.child_wrote("sms-1", "still there?")
    assert await relay.queue.messages(ticket) == [("child", "hello?")] * 2 + [("child", "still there?")] * 2


async def test_an_answer_handled_again_gets_the_same_reply_and_changes_nothing_twice(relay_for, dialogue):
    relay = relay_for()
    await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", ())
    ticket = (await relay.queue.active("sms-1")).id
    words = "someone keeps sending me messages"
    await relay.child_wrote("sms-1", "0", "t1")  # who: skipped
    await relay.child_wrote("sms-1", "0", "t2")  # age: skipped
    first = await relay.child_wrote("sms-1", words, "t3")
    assert texts(first) == [dialogue.texts.get("intake_done", "en")]
    assert await relay.child_wrote("sms-1", words, "t3") == first
    danger = "he is here now and he is hitting me"
    warned = await relay.child_wrote("sms-1", danger, "t4")
    assert await relay.child_wrote("sms-1", danger, "t4") == warned
    assert await relay.queue.messages(ticket) == [("child", words), ("child", danger)]
    assert (await relay.queue.get(ticket)).intake == {"what": words}


async def test_the_message_that_opened_the_ticket_goes_back_to_the_bot_when_run_again(relay_for):
    relay = relay_for()
    first = await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", ("i want a person",), turn=TURN)
    assert await relay.child_wrote("sms-1", "i want a person", TURN) is None  # the bot's turn: it runs again
    assert await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", ("i want a person",), turn=TURN) == first
    assert await relay.queue.messages((await relay.queue.active("sms-1")).id) == []


# -- erasure --------------------------------------------------------------------------------------


async def test_erasure_removes_what_the_conversations_turns_did(store, relay_for):
    kind, client, prefix = store
    relay = relay_for()
    first = await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", (), turn=TURN)
    await relay.child_wrote("sms-1", "hello", TURN + "-next")
    assert (await relay.queue.turn_record("sms-1", TURN)).said
    if kind == "redis":
        record = f"{prefix}turns:sms-1"
        assert TURN_KEPT_S - 60 < await client.ttl(record) <= TURN_KEPT_S
        assert not any(TURN in field for field in await client.hkeys(record))
    await relay.queue.erase("sms-1")
    assert await relay.queue.turn_record("sms-1", TURN) == ("", "", "")
    assert await relay.queue.turn_record("sms-1", TURN + "-next") == ("", "", "")
    if kind == "redis":
        assert [key async for key in client.scan_iter(match=f"{prefix}turns:*")] == []
    again = await relay.hand_off(DESK, ASKED, "sms-1", "sms", "en", (), turn=TURN)  # nothing remembered: anew
    assert len(again) == len(first) and (await relay.queue.active("sms-1")).state is State.WAITING


# -- through the channels -------------------------------------------------------------------------


async def test_a_channel_turn_run_again_writes_the_childs_message_once(dialogue):
    """The channels read the key from the UserMessage's metadata (channels.services.ChannelServices.turn)."""
    from rasa.core.channels.channel import UserMessage

    from bot.privacy.sender_ids import SenderIds
    from channels.safe_turn import SenderQueues
    from channels.services import ChannelServices
    from tests.test_channel_parts import Recorder, in_memory

    services = ChannelServices(
        in_memory(rebuilt(dialogue, desks=Desks({"NG": DESK})), SenderIds(b"k" * 32)), SenderQueues()
    )
    ticket = await waiting_without_intake(services.relay, "sms-1")

    async def rasa(message: UserMessage) -> None:  # pragma: no cover - a counsellor has the conversation
        raise AssertionError("the bot answered")

    for metadata in ({"turn": TURN}, {"turn": TURN}, {"turn": TURN + "-next"}, {}, None):
        message = UserMessage("are you there?", Recorder(), "sms-1", input_channel="sms", metadata=metadata)
        await services.turn(rasa, message, message.output_channel, 1.0)
    assert await services.relay.queue.messages(ticket) == [("child", "are you there?")] * 4


# -- a crisis at the door -------------------------------------------------------------------------


async def nothing_before() -> tuple[str, ...]:
    return ()


async def test_a_crisis_opens_its_ticket_at_the_door_and_the_actions_handoff_finds_it(relay_for):
    relay = relay_for()
    earlier = tuple(f"message {n}" for n in range(12))
    first_sight: list[tuple[str, ...]] = []

    async def said_before() -> tuple[str, ...]:  # asked once the ticket is open, as the console first sees it
        first_sight.append((await relay.queue.active("sms-1")).last_messages)
        return earlier

    assert await relay.at_the_door("sms-1", "sms", "i want to die", ("NG", "fr"), said_before, TURN) is True
    assert first_sight == [("i want to die",)]
    # the webhook sent again: the same ticket, nothing opened or told again
    assert await relay.at_the_door("sms-1", "sms", "i want to die", ("NG", "fr"), said_before, TURN) is False
    ticket = await relay.queue.active("sms-1")
    assert ticket is not None and ticket.reason == "self_harm" and ticket.language == "fr"
    assert ticket.last_messages == (*earlier[-9:], "i want to die")  # the last ten, as the action gives them
    assert (await relay.queue.turn_record("sms-1", TURN)).said  # what the child is to be told, kept
    # the action's own hand_off for the same turn, a moment later: the same ticket, told the same
    request = HandoffRequest(ticket.risk, ticket.reason)
    again = await relay.hand_off(DESK, request, "sms-1", "sms", "en", ("i want to die",), turn=TURN)
    assert again and again == await relay.hand_off(DESK, request, "sms-1", "sms", "en", (), turn=TURN)
    assert [t.id for t in await relay.queue.waiting("NG")] == [ticket.id]
    assert (await relay.queue.get(ticket.id)).history == ticket.history


@pytest.mark.parametrize(
    ("text", "channel", "country", "turn"),  # the language: the crisis list's when the conversation's is unknown
    [
        ("hello, can you help with homework", "sms", "NG", TURN),  # no crisis
        ("i want to die", "sms", "FR", TURN),  # no desk takes conversations from there
        ("i want to die", "sms", "NG", ""),  # no turn key (rest, old payloads)
        ("i want to die", "rest", "NG", TURN),  # a channel without handoffs
    ],
)
async def test_the_door_opens_nothing_else(relay_for, text, channel, country, turn):
    relay = relay_for()
    assert await relay.at_the_door("sms-1", channel, text, (country, None), nothing_before, turn) is False
    assert await relay.queue.active("sms-1") is None


async def test_the_door_leaves_a_crisis_to_the_counsellor_who_already_has_the_child(relay_for):
    relay = relay_for()
    request = HandoffRequest(Risk.ASKED, "talk")
    await relay.hand_off(DESK, request, "sms-1", "sms", "en", ("can i talk to someone",), turn=TURN)
    assert await relay.at_the_door("sms-1", "sms", "i want to die", ("NG", "en"), nothing_before, TURN + "-x") is False
    assert (await relay.queue.turn_record("sms-1", TURN + "-x")).said == ""  # child_wrote gives it to the counsellor
    assert len(await relay.queue.waiting("NG")) == 1
