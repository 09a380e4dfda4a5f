"""The one custom action: hand the message to bot.conversation.dialogue and send back what it decides.

The dialogue's data files are loaded and validated when the action server imports this module,
so a broken file stops the action server at start-up instead of failing a child mid-conversation.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.conversation.dialogue import SLOTS, Turn
from bot.conversation.needs import TRIGGERS
from bot.conversation.relay import LAST_MESSAGES
from bot.handoff.desks import HANDOFF_CHANNELS
from bot.privacy.erasure import ERASE
from bot.storage.turns import turn_of
from bot.wiring.heap import freeze_startup_objects
from bot.wiring.priority import lower_this_process
from bot.wiring.services import services

SERVICES = services()
SERVICES.dialogue, SERVICES.relay, SERVICES.stats  # noqa: B018 - built (and data files checked) at start-up
freeze_startup_objects()  # the dialogue's data and the libraries stay for the process's life
lower_this_process()  # webhooks and crisis tickets on the Rasa server's loop go first


def earlier_in_session(tracker: Tracker) -> list[str]:
    """The child's messages before this one, in this session only (weeks-old words are no context)."""
    events = tracker.events
    start = max((i for i, e in enumerate(events) if e.get("event") == "session_started"), default=-1)
    return [e.get("text") or "" for e in events[start + 1 :] if e.get("event") == "user"][:-1]


class ActionReply(Action):
    """Answers every message (see data/rules.yml)."""

    def name(self) -> str:
        return "action_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        turn = Turn.parsed(
            tracker.latest_message or {}, {name: tracker.get_slot(name) for name in SLOTS}, earlier_in_session(tracker)
        )
        outcome = SERVICES.dialogue.respond(turn)
        channel = tracker.get_latest_input_channel() or "rest"
        key = turn_of((tracker.latest_message or {}).get("metadata"))  # run again by another server: no effect twice
        # Counted while the ticket opens, not before it; the turn still ends only once it is counted.
        counted = asyncio.ensure_future(
            SERVICES.stats.record_turn(
                outcome.need,
                TRIGGERS.get(outcome.need),
                outcome.slots.get("country"),
                outcome.language,
                channel,
                turn.slots.get("country"),
                key,
            )
        )
        messages = list(outcome.messages)
        desk = SERVICES.desks.get(outcome.slots.get("country"))
        try:
            if outcome.handoff and desk and channel in HANDOFF_CHANNELS:
                said = tuple(e.get("text") or "" for e in tracker.events if e.get("event") == "user")[-LAST_MESSAGES:]
                messages += await SERVICES.relay.hand_off(
                    desk, outcome.handoff, tracker.sender_id, channel, outcome.language, said, turn=key
                )
        finally:
            await counted
        if outcome.erase:  # first, so the channel knows before "deleted" is sent; it erases after the turn
            dispatcher.utter_message(json_message=ERASE)
        for reply in messages:
            buttons = [{"title": choice.title, "payload": choice.payload} for choice in reply.choices]
            dispatcher.utter_message(text=reply.text, buttons=buttons or None)
        return [SlotSet(name, value) for name, value in outcome.slots.items() if value != turn.slots.get(name)]
