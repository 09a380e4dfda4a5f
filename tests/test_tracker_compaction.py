"""A stored conversation stays small however long it runs (channels/tracker_compaction.py), and
the bot answers from it exactly as it would from the whole conversation."""

from __future__ import annotations

import uuid
from types import ModuleType
from typing import Any

import pytest
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot.conversation.risk import RiskSettings
from bot.wiring.services import Services
from bot.wiring.settings import Settings
from channels import tracker_store
from channels.tracker_compaction import KEPT_MESSAGES, KEPT_TURNS, compacted
from channels.tracker_store import HelplineTrackerStore
from tests.conftest import action_server_module
from tests.in_process_actions import InProcessActions

DOMAIN = Domain.load("domain.yml")
INTENTS = ["greet", "need_helpline", "cyberbullying", "privacy_question", "safety_tips", "choose_option"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def session_start(clock: Clock, **carried: Any) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=clock()),
        SessionStarted(timestamp=clock()),
        *(SlotSet(name, value, timestamp=clock()) for name, value in carried.items()),
        ActionExecuted(ACTION_LISTEN_NAME, timestamp=clock()),
    ]


def turn(clock: Clock, n: int, *slots: tuple[str, Any]) -> list[Event]:
    """One message and its answer as Rasa logs them, with a parse as large as the classifier's."""
    text = f"message number {n} " + "words " * 10
    ranking = [{"name": name, "confidence": 1 / (i + 2)} for i, name in enumerate(INTENTS)]
    parse = {"text": text, "intent": ranking[0], "intent_ranking": ranking, "entities": []}
    return [
        UserUttered(
            text, ranking[0], parse_data=parse, input_channel="rest", metadata={"country": "KE"}, timestamp=clock()
        ),
        ActionExecuted("action_reply", policy="RulePolicy", confidence=1.0, timestamp=clock()),
        BotUttered(f"answer {n} " + "sentence " * 30, {"buttons": [{"title": "1", "payload": "1"}]}, timestamp=clock()),
        *(SlotSet(name, value, timestamp=clock()) for name, value in slots),
        ActionExecuted(ACTION_LISTEN_NAME, policy="RulePolicy", confidence=1.0, timestamp=clock()),
    ]


def conversation(turns: int, clock: Clock | None = None) -> DialogueStateTracker:
    """A session with the language set at the start, the country at turn 5 and the menu near the end."""
    clock = clock or Clock()
    events = session_start(clock, language="en")
    for n in range(turns):
        slots = [("country", "KE")] if n == 5 else [("menu", f"menu-{n}")] if n == turns - 3 else []
        events += turn(clock, n, *slots)
    return DialogueStateTracker.from_events("child", events, DOMAIN.slots)


def said(tracker: DialogueStateTracker) -> list[str]:
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


def slots(tracker: DialogueStateTracker) -> dict[str, Any]:
    return {name: slot.value for name, slot in tracker.slots.items()}


def test_a_short_conversation_is_stored_as_it_is():
    tracker = conversation(KEPT_TURNS)
    assert compacted(tracker) is tracker
    assert compacted(conversation(KEPT_TURNS + 1)) is not tracker


def test_compaction_keeps_the_slots_the_session_start_and_the_last_turns():
    tracker = conversation(60)
    kept = compacted(tracker)
    assert slots(kept) == slots(tracker) and kept.get_slot("country") == "KE" and kept.get_slot("language") == "en"
    assert said(kept) == said(tracker)[-KEPT_MESSAGES:]
    assert kept.latest_message == tracker.latest_message
    assert kept.latest_action == tracker.latest_action
    assert kept.latest_bot_utterance == tracker.latest_bot_utterance
    original, events = list(tracker.events), list(kept.events)
    assert events[:2] == original[:2]  # the session's start, its times too
    cut = [i for i, e in enumerate(original) if isinstance(e, UserUttered)][-KEPT_TURNS] - 1
    assert original[cut] == ActionExecuted(ACTION_LISTEN_NAME)  # the kept turns begin with the bot listening
    assert events[-(len(original) - cut) :] == original[cut:]  # as they were
    words = [e for e in events[: -(len(original) - cut)] if isinstance(e, UserUttered)]
    assert len(words) == KEPT_MESSAGES - KEPT_TURNS
    assert all(e.intent_name is None and "intent_ranking" not in e.parse_data for e in words)  # the words alone
    answers = [e for e in events[: -(len(original) - cut)] if isinstance(e, BotUttered)]
    told = [e.text for e in original[:cut] if isinstance(e, BotUttered)][-len(words) :]  # one answer a turn here
    assert [e.text for e in answers] == told and not any(e.data.get("buttons") for e in answers)
    assert len(events) < len(original) / 4
    stamps = [e.timestamp for e in events]
    assert stamps == sorted(stamps)  # the slots are set between the dropped turns and the kept ones


def test_the_slots_set_before_the_kept_turns_are_those_of_the_dropped_ones():
    """The country was set at turn 5 and the menu at the end: after compaction the country is one
    slot event at the start of the kept turns, and a slot set to its initial value is not repeated."""
    tracker = conversation(60)
    tracker.update(SlotSet("language", None))  # reset in a kept turn: None again afterwards
    kept = compacted(tracker)
    head = [e for e in kept.events if isinstance(e, SlotSet)]
    assert head[:2] == [SlotSet("language", "en"), SlotSet("country", "KE")]
    assert kept.get_slot("language") is None and kept.get_slot("menu") == "menu-57"


def test_only_the_latest_session_is_compacted_and_the_older_ones_go():
    clock = Clock()
    events = list(conversation(30, clock).events) + session_start(clock, language="en", country="KE")
    for n in range(30):
        events += turn(clock, 100 + n)
    tracker = DialogueStateTracker.from_events("child", events, DOMAIN.slots)
    kept = compacted(tracker)
    assert said(kept) == said(tracker)[-KEPT_MESSAGES:]
    assert len([e for e in kept.events if isinstance(e, SessionStarted)]) == 1
    assert slots(kept) == slots(tracker)


def test_enough_is_kept_for_the_action(actions):
    """action_reply sends the last LAST_MESSAGES of the child's messages with a handoff, and the risk
    classifier reads the last context_turns together: the action reads all of them from the stored
    conversation (with the one arriving), as from the whole one."""
    from rasa_sdk import Tracker

    whole = conversation(60)
    arriving = turn(Clock(), 60)[0]
    stored = compacted(whole)
    stored.update(arriving)
    whole.update(arriving)
    earlier, all_earlier = (
        actions.earlier_in_session(Tracker.from_dict(t.current_state(EventVerbosity.ALL))) for t in (stored, whole)
    )
    assert earlier == all_earlier[-len(earlier) :]
    assert len(earlier) + 1 >= actions.LAST_MESSAGES
    assert len(earlier) + 1 >= RiskSettings.load().context_turns


async def test_a_stored_conversation_stays_small_over_400_turns():
    store = HelplineTrackerStore(DOMAIN, services=Services(Settings.from_environ({})))
    clock, sender, sizes = Clock(), f"rest-{uuid.uuid4().hex}", []
    tracker = DialogueStateTracker.from_events(sender, session_start(clock, language="fr"), DOMAIN.slots)
    for n in range(400):
        for event in turn(clock, n, ("country", "KE") if n == 7 else ("menu", str(n))):
            tracker.update(event)
        await store.save(tracker)
        sizes.append(len(await store.conversations.load(sender)))
        tracker = await store.retrieve(sender)
    assert said(tracker) == said(conversation(400))[-KEPT_MESSAGES:]
    assert tracker.get_slot("country") == "KE" and tracker.get_slot("language") == "fr"
    assert tracker.get_slot("menu") == "399"
    assert max(sizes[KEPT_MESSAGES + 1 :]) < 1.01 * sizes[KEPT_MESSAGES + 1]  # flat once compacted
    assert sizes[399] < 50_000


# --- the real bot, in one process: NLU, RulePolicy, the action, the tracker store --------------


@pytest.fixture(scope="module")
def actions() -> ModuleType:
    return action_server_module()


MESSAGES = [
    "hi",
    "what is a helpline",
    "1",
    "how do i report a post on instagram",
    "someone keeps posting mean comments on my photos",
    "what do you keep about me",
    "tips to stay safe online",
    "ok",
    "hola",
    "cómo denuncio una foto",
    "gracias",
    "bonjour",
    "merci",
    "2",
    "i am sad",
    "nobody likes me at school",
]


@pytest.mark.rasa
async def test_a_conversation_goes_on_exactly_as_without_compaction(model, actions, monkeypatch):
    """The same 60 messages from two children, the second stored whole: the same replies, turn by
    turn; the first's stored conversation and the action server's requests stop growing."""
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    store = HelplineTrackerStore(DOMAIN, services=Services(Settings.from_environ({})))
    endpoint = InProcessActions(actions)
    agent = Agent.load(str(model), tracker_store=store, action_endpoint=endpoint)

    async def talk(sender: str) -> list[list[dict]]:
        answers = []
        for n in range(60):
            output = CollectingOutputChannel()
            text = MESSAGES[n % len(MESSAGES)]
            await agent.handle_message(UserMessage(text, output, sender, metadata={"country": "KE"}))
            answers.append(output.messages)
        return answers

    compacted_sender, whole_sender = f"rest-{uuid.uuid4().hex}", f"rest-{uuid.uuid4().hex}"
    with_compaction = await talk(compacted_sender)
    sent_compacted = list(endpoint.sent)
    stored = len(await store.conversations.load(compacted_sender))
    with monkeypatch.context() as patch:
        patch.setattr(tracker_store, "compacted", lambda tracker: tracker)
        endpoint.sent.clear()
        whole = await talk(whole_sender)
    strip = lambda answers: [[{k: v for k, v in m.items() if k != "recipient_id"} for m in a] for a in answers]  # noqa: E731
    assert strip(with_compaction) == strip(whole)
    assert all(with_compaction)
    assert len(await store.conversations.load(whole_sender)) > 3 * stored
    assert max(sent_compacted[-10:]) < 1.2 * max(sent_compacted[20:30])  # the action's input is bounded
    assert endpoint.sent[-1] > 3 * sent_compacted[-1]
