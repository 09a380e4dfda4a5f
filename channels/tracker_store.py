"""Rasa's tracker store for this bot: each conversation in bot.storage.stores' ``Conversations``.

Why not Rasa's own RedisTrackerStore: it ignores a key prefix that is not alphanumeric (so two
bots, or test runs, on one Redis would share trackers), blocks the event loop with a synchronous
client, and cannot be reached by the channels to erase a conversation when the child asks. This
one keeps the latest session only (the older ones are not needed to answer), and of a long one its
last turns and its slots (channels.tracker_compaction), expires it after
``conversation_days`` of silence (data/privacy.yml), and runs in memory without ``REDIS_URL``.

    tracker_store:
      type: channels.tracker_store.HelplineTrackerStore
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import FailSafeTrackerStore, SerializedTrackerAsText, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker, get_trackers_for_conversation_sessions

from bot.storage.inbound import CLAIM, NewState
from bot.wiring.services import Services
from bot.wiring.services import services as process_services
from channels.tracker_compaction import compacted


class HelplineTrackerStore(TrackerStore, SerializedTrackerAsText):
    def __init__(
        self,
        domain: Domain,
        event_broker: Optional[EventBroker] = None,
        services: Optional[Services] = None,
        **kwargs: Any,
    ) -> None:
        """``services``: the process's (bot.wiring) unless given; Rasa passes none."""
        kwargs.pop("host", None)  # Rasa passes the endpoint's url; the store comes from REDIS_URL
        super().__init__(domain, event_broker, **kwargs)
        services = services or process_services()
        self.conversations = services.stores.conversations
        self.journal = services.journal
        self.ttl_s = services.retention.conversation_s
        self.recent = services.recent_hints

    async def save(self, tracker: DialogueStateTracker) -> None:
        """A journalled turn (bot.storage.inbound) commits here: the new state written, the message
        removed and the turn's replies queued (each once, by key) in one step, only while the
        turn's lease is still the conversation's (else LeaseLost: a server paused past its
        lease never overwrites what the next owner did). Other turns (web chat, rest) just save.
        What is stored is bounded (channels.tracker_compaction): long conversations stay small."""
        self._note(tracker)
        await self.stream_events(tracker)
        state = self.serialise_tracker(compacted(tracker))
        claim = CLAIM.get()
        if claim is None or claim.lease.conversation != tracker.sender_id:
            await self.conversations.save(tracker.sender_id, state, self.ttl_s)
            return
        from channels.services import services as channel_services  # the channels' layer, built by now

        answered = (tracker.latest_message.metadata or {}).get("turn") == claim.key if tracker.latest_message else False
        replies = channel_services().turn_replies(claim)
        new = NewState(tracker.sender_id, state, self.ttl_s, answered, replies)
        await self.journal.save_conversation(claim, self.conversations, new)

    def _note(self, tracker: DialogueStateTracker) -> None:
        """Keep the conversation's country and language at hand for a fail-safe reply (RecentHints)."""
        self.recent.note(tracker.sender_id, tracker.get_slot("country"), tracker.get_slot("language"))

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The conversation's latest session (the one Rasa answers from)."""
        tracker = await self.retrieve_full_tracker(sender_id)
        if tracker is None:
            return None
        sessions = get_trackers_for_conversation_sessions(tracker)
        return sessions[-1] if sessions else tracker

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        state = await self.conversations.load(sender_id)
        tracker = self.deserialise_tracker(sender_id, state) if state else None
        if tracker is not None:
            self._note(tracker)
        return tracker

    async def keys(self) -> Iterable[str]:
        return await self.conversations.senders()


def fail_loudly(tracker_store: Optional[TrackerStore]) -> None:
    """Let a failing tracker store fail the turn, so the channel sends the fail-safe reply.

    Rasa wraps every tracker store in a ``FailSafeTrackerStore`` which, when the store fails, logs
    and goes on from an empty tracker kept in the process's memory: with Redis down the child was
    answered as a stranger (the first-contact notice again, their language and country forgotten,
    a handoff missed), and that turn was never seen again once Redis was back. Rasa's wrapper calls
    ``on_tracker_store_error`` inside its ``except``; ours re-raises there.
    """
    if isinstance(tracker_store, FailSafeTrackerStore):
        tracker_store._on_tracker_store_error = _raise  # the wrapper's constructor argument, set after Rasa built it


def _raise(error: Exception) -> None:
    raise error
