"""The custom action counts each turn's statistics while a ticket opens, and always before it ends,
even when opening the ticket fails. In memory (no REDIS_URL), as the action server runs without one."""

from __future__ import annotations

import datetime as dt
from types import ModuleType

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.stats.counters import ContactEvent, HandoffEvent, week_of
from tests.conftest import HANDOFF_FILE, action_server_module


@pytest.fixture(scope="module")
def actions() -> ModuleType:
    """The action server's module as it loads, with the Nigerian test desk and nothing in Redis."""
    return action_server_module(HELPLINE_HANDOFF_FILE=str(HANDOFF_FILE))


def crisis(sender: str, turn: str = "") -> Tracker:
    message = {
        "text": "i want to die",
        "intent": {"name": "self_harm"},
        "metadata": {"channel": "sms", "country": "NG", **({"turn": turn} if turn else {})},
    }
    events = [{"event": "user", "text": "i want to die", "input_channel": "sms", "parse_data": message}]
    return Tracker(sender, {}, message, events, False, None, {}, "action_listen")


async def counted(actions: ModuleType) -> dict:
    cells = await actions.SERVICES.stats.counter.week(week_of(dt.datetime.now(dt.timezone.utc)))
    return {e: n for e, n in cells.items() if e.country == "NG" and e.channel == "sms"}


def figures(cells: dict) -> tuple[int, int]:
    need = sum(n for e, n in cells.items() if isinstance(e, ContactEvent) and e.need == "self_harm")
    conversations = sum(n for e, n in cells.items() if isinstance(e, HandoffEvent) and e.figure == "conversations")
    return need, conversations


async def test_a_crisis_turn_opens_a_ticket_and_is_counted(actions):
    before = figures(await counted(actions))
    dispatcher = CollectingDispatcher()
    await actions.ActionReply().run(dispatcher, crisis("action-test-1"), {})
    assert await actions.SERVICES.relay.queue.active("action-test-1") is not None
    assert figures(await counted(actions)) == (before[0] + 1, before[1] + 1)
    assert dispatcher.messages


async def test_the_turn_is_counted_even_when_the_ticket_cannot_open(actions, monkeypatch):
    async def broken(*args, **kwargs):
        raise ConnectionError("the handoff store is down")

    monkeypatch.setattr(actions.SERVICES.relay, "hand_off", broken)
    before = figures(await counted(actions))
    with pytest.raises(ConnectionError):
        await actions.ActionReply().run(CollectingDispatcher(), crisis("action-test-2"), {})
    assert figures(await counted(actions)) == (before[0] + 1, before[1] + 1)


async def test_a_turn_run_again_by_another_server_opens_no_second_ticket_and_is_not_counted_again(actions):
    """Same turn key (bot.storage.turns): the same reply, one ticket, counted once; no key: counted each time."""
    before = figures(await counted(actions))
    replies = []
    for _ in range(2):
        dispatcher = CollectingDispatcher()
        await actions.ActionReply().run(dispatcher, crisis("action-test-3", turn="sms:action-test-3:SM1"), {})
        replies.append(dispatcher.messages)
    assert replies[0] == replies[1] and replies[0]
    queue = actions.SERVICES.relay.queue
    ticket = await queue.active("action-test-3")
    assert [t.id for t in await queue.waiting("NG") if t.conversation == "action-test-3"] == [ticket.id]
    assert figures(await counted(actions)) == (before[0] + 1, before[1] + 1)
    for _ in range(2):
        await actions.ActionReply().run(CollectingDispatcher(), crisis("action-test-4"), {})
    assert figures(await counted(actions)) == (before[0] + 3, before[1] + 3)
