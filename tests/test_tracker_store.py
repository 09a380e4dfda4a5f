"""Rasa's conversations kept by channels/tracker_store.py: under the bot's Redis prefix, expiring
after the configured period, the latest session only, erasable; in memory without Redis."""

from __future__ import annotations

import uuid

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.storage.retention import Retention
from bot.wiring.services import Services
from bot.wiring.settings import Settings
from channels.tracker_store import HelplineTrackerStore

REDIS_URL = "redis://127.0.0.1:6379/0"
DOMAIN = Domain.load("domain.yml")


def tracker(sender: str, *events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender, list(events), slots=DOMAIN.slots)


def session(text: str) -> list:
    return [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": "greet", "confidence": 1.0}),
    ]


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_conversations_are_kept_expire_and_can_be_erased(backend):
    prefix = f"test-tracker-{uuid.uuid4().hex}:"
    environ = {"REDIS_URL": REDIS_URL, "HELPLINE_REDIS_PREFIX": prefix} if backend == "redis" else {}
    services = Services(Settings.from_environ(environ))
    store = HelplineTrackerStore(DOMAIN, host=None, services=services)
    sender = f"sms-{uuid.uuid4().hex}"
    await store.save(tracker(sender, *session("hello"), *session("second visit"), SlotSet("language", "fr")))
    found = await store.retrieve(sender)
    assert found.get_slot("language") == "fr"
    assert [e.text for e in found.events if isinstance(e, UserUttered)] == ["second visit"]  # the latest session
    assert len([e for e in (await store.retrieve_full_tracker(sender)).events if isinstance(e, UserUttered)]) == 2
    assert sender in list(await store.keys())
    await store.conversations.delete(sender)
    assert await store.retrieve(sender) is None and sender not in list(await store.keys())
    if backend == "redis":
        await store.save(tracker(sender, *session("hello")))
        key = f"{prefix}conversation:{sender}"
        ttl = await store.conversations.client.ttl(key)
        assert 0 < ttl <= Retention.load().conversation_s  # Redis drops it after conversation_days
        await store.conversations.client.delete(key)
    else:
        assert store.conversations is services.stores.conversations  # the channels erase from the same store
