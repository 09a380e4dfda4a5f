"""Rasa's tracker store for this bot: each conversation in bot.storage.stores' ``Conversations``.

Why not Rasa's own RedisTrackerStore: it ignores a key prefix that is not alphanumeric (so two
bots, or test runs, on one Redis would share trackers), blocks the event loop with a synchronous
client, and cannot be reached by the channels to erase a conversation when the child asks. This
one keeps the latest session only (the older ones are not needed to answer), expires it after
``conversation_days`` of silence (data/privacy.yml), and runs in memory without ``REDIS_URL``.

    tracker_store:
      type: channels.tracker_store.HelplineTrackerStore
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker, get_trackers_for_conversation_sessions

from bot.wiring.services import Services
from bot.wiring.services import services as process_services


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
        self.ttl_s = services.retention.conversation_s

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        await self.conversations.save(tracker.sender_id, self.serialise_tracker(tracker), self.ttl_s)

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The conversation's latest session (the one Rasa answers from)."""
        tracker = await self.retrieve_full_tracker(sender_id)
        if tracker is None:
            return None
        sessions = get_trackers_for_conversation_sessions(tracker)
        return sessions[-1] if sessions else tracker

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        state = await self.conversations.load(sender_id)
        return self.deserialise_tracker(sender_id, state) if state else None

    async def keys(self) -> Iterable[str]:
        return await self.conversations.senders()
