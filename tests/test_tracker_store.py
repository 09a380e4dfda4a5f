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


async def test_a_store_that_fails_fails_the_turn_instead_of_answering_a_stranger(tmp_path):
    """Rasa's FailSafeTrackerStore would go on from an empty in-memory tracker; made to fail loudly,
    the error reaches the channel (which answers with the numbers), on reading and on saving."""
    from rasa.core.tracker_store import FailSafeTrackerStore

    from bot.storage.guard import RedisDown
    from channels.tracker_store import fail_loudly
    from scripts.private_redis import PrivateRedis

    redis_server = PrivateRedis(tmp_path)
    redis_server.start()
    services = Services(Settings.from_environ({"REDIS_URL": redis_server.url, "REDIS_TIMEOUT_MS": "200"}))
    wrapped = FailSafeTrackerStore(HelplineTrackerStore(DOMAIN, services=services))
    try:
        redis_server.kill()
        assert await wrapped.retrieve("sms-x") is None  # Rasa's own: the child would be a stranger
        fail_loudly(wrapped)
        with pytest.raises(RedisDown):
            await wrapped.retrieve("sms-x")
        with pytest.raises(RedisDown):
            await wrapped.save(tracker("sms-x", *session("hello")))
    finally:
        await services.close()
        redis_server.close()


async def test_each_conversation_loaded_or_saved_leaves_its_country_and_language_for_a_fail_safe_reply():
    services = Services(Settings.from_environ({}))
    store = HelplineTrackerStore(DOMAIN, services=services)
    sender = f"telegram-{uuid.uuid4().hex}"
    await store.save(tracker(sender, *session("habari"), SlotSet("country", "KE"), SlotSet("language", "sw")))
    hints = services.recent_hints
    assert hints.completed(sender, {"channel": "telegram", "language": "en"}) == {
        "channel": "telegram",
        "language": "sw",  # the conversation's language over the phone's setting
        "country": "KE",
    }
    hints.forget(sender)
    assert hints.completed(sender, {"language": "en"}) == {"language": "en"}
    await store.retrieve(sender)  # another server saved it: loading it is enough
    assert hints.completed(sender, {"country": "FR"}) == {"country": "FR", "language": "sw"}  # a given country stays
