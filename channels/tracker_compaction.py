"""Keep a stored conversation small: the latest session's start, its slots, and the last turns.

Why: a child comes back to the same conversation for weeks, and Rasa keeps every event of it.
Every message then cost more than the one before: the whole tracker was read from Redis and
rebuilt, replayed by RulePolicy to find the rule to apply (twice a message), sent to the action
server and rebuilt there, then written back; 17 ms a message over the first 50 turns, 111 ms over
turns 350-399, and 1.2 MB in Redis at turn 400 (``make bench-long``).

Nothing needs the older turns as Rasa logged them. The rules (data/rules.yml) are one step each,
"this intent, then action_reply", so RulePolicy predicts the same from the last turn as from the
whole history. action_reply (actions/actions.py) reads the slots and the words of the child's
earlier messages in this session: bot.conversation.risk reads the last ``context_turns - 1`` of
them (data/risk.yml) and a handoff shows the counsellor the last ``LAST_MESSAGES`` (10). Rasa reads
the latest session start and the last message's time (whether the session has expired). What is
older is also what the retention policy (data/privacy.yml) would drop after ``conversation_days``.

So once the latest session holds more than ``KEPT_TURNS`` of the child's messages, the stored
conversation becomes: that session's start (``action_session_start``, ``session_started``); the
words alone of the child's messages before the kept turns, up to ``KEPT_MESSAGES`` in all, and of
the bot's answers to them (each a user or bot event with its text and time, without the parse,
the buttons or the actions: the story of those turns as the child read it); one ``slot`` event for
each slot that was set when the kept turns begin (the language, the country, the menu, the
handoff's state: everything the dropped events had set); then the events from the
``action_listen`` before the ``KEPT_TURNS``-th last message on, as they were. Replayed, it gives
the same slots, latest message, latest action and bot message as the whole conversation, and the
same words of the child's last ``KEPT_MESSAGES`` messages and of the bot's answers to them, so
Rasa, the action and the channels answer the next message exactly as before. Older sessions go
too (the tracker store reads the latest one only).

Why so few whole turns: every event is read from Redis, rebuilt, replayed several times a turn by
Rasa (and by RulePolicy twice), sent to the action server and rebuilt there, then written back.
Ten whole turns were 57 events and 26 KB; the last 2 whole and the words of 8 are 33 events and
9 KB. With only the child's words kept (25 events, 8 KB) the Rasa server's CPU per message went
from 24-26 ms to 17-20 ms (20 children's messages 16 to 45 on one server, as in
``scripts/bench_cluster.py``, 2026-12-07).

Compaction is done when the conversation is saved (channels.tracker_store), so what Rasa reads,
replays and sends to the action server is bounded by it.
"""

from __future__ import annotations

from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conversation.relay import LAST_MESSAGES

# The child's messages whose words are kept: the handoff's "what they said" (the one arriving with
# them included) and those bot.conversation.risk reads together (tests/test_tracker_compaction.py).
KEPT_MESSAGES = LAST_MESSAGES
# The child's last messages kept whole, as Rasa logged them with their answers.
KEPT_TURNS = 2


def compacted(
    tracker: DialogueStateTracker, kept_messages: int = KEPT_MESSAGES, kept_turns: int = KEPT_TURNS
) -> DialogueStateTracker:
    """``tracker`` itself when its latest session holds at most ``kept_turns`` of the child's
    messages; otherwise a tracker of the session's start, the words of the child's messages before
    the kept turns (up to ``kept_messages`` in all), the slots then, and the last turns whole."""
    events = list(tracker.events)
    start = _latest_session_start(events)
    messages = [i for i in range(start, len(events)) if isinstance(events[i], UserUttered)]
    if len(messages) <= kept_turns:
        return tracker
    cut = messages[-kept_turns]
    if isinstance(events[cut - 1], ActionExecuted) and events[cut - 1].action_name == ACTION_LISTEN_NAME:
        cut -= 1  # the kept turns begin as every turn does, with the bot listening
    head = [e for e in events[start:cut] if _is_session_start(e)]
    earlier = messages[-kept_messages:-kept_turns]
    words = (
        [_words_of(e) for e in events[earlier[0] : cut] if isinstance(e, (UserUttered, BotUttered))] if earlier else []
    )
    then = tracker.init_copy()
    for event in events[:cut]:  # the slots as they were when the kept turns begin
        then.update(event)
    stamp = events[cut - 1].timestamp  # in order: after the dropped events, before the kept ones
    slots = [
        SlotSet(name, slot.value, timestamp=stamp)
        for name, slot in then.slots.items()
        if slot.value != slot.initial_value
    ]
    return DialogueStateTracker.from_events(
        tracker.sender_id, head + words + slots + events[cut:], tracker.slots.values(), tracker._max_event_history
    )


def _words_of(said: UserUttered | BotUttered) -> UserUttered | BotUttered:
    """A message of the child's, or the bot's, as its words and time only."""
    if isinstance(said, BotUttered):
        return BotUttered(said.text, timestamp=said.timestamp)
    return UserUttered(said.text, timestamp=said.timestamp, input_channel=said.input_channel)


def _latest_session_start(events: list[Event]) -> int:
    """The index of the latest session's ``action_session_start`` (0 without one)."""
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], ActionExecuted) and events[index].action_name == ACTION_SESSION_START_NAME:
            return index
    return 0


def _is_session_start(event: Event) -> bool:
    return isinstance(event, SessionStarted) or (
        isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME
    )
