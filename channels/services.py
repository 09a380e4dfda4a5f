"""What the messaging channels share in one server process: the dialogue's data (for the fallback
reply), the keyed sender ids, the dedupe and address stores, and the per-sender queues.

Built once, on the first channel's start-up, so a missing secret stops the server there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from bot.dialogue import BotMessage, Dialogue
from bot.escalation import queue_from_env, to_counsellor
from bot.handoff import HandoffQueue, State
from bot.sender_ids import SenderIds
from bot.stores import Stores, stores_from_env
from channels.safe_turn import SenderQueues

DEDUPE_TTL_S = 24 * 3600  # Telegram and Twilio give up retrying well within a day
ADDRESS_TTL_S = 7 * 24 * 3600  # long enough for a counsellor to answer; then forgotten


@dataclass(frozen=True)
class ChannelServices:
    dialogue: Dialogue
    sender_ids: SenderIds
    stores: Stores
    queues: SenderQueues
    handoff: HandoffQueue

    async def counsellor_has(self, sender: str, text: str) -> Optional[list[BotMessage]]:
        """None when the bot should answer; else what to tell the child (nothing, or "stopped")."""
        ticket = await to_counsellor(self.handoff, sender, text)
        if ticket is None:
            return None
        if ticket.state is State.CLOSED:
            return [BotMessage(self.dialogue.texts.get("stopped", ticket.language))]
        return []


@lru_cache(maxsize=1)
def services() -> ChannelServices:
    """The process's shared services; raises (naming the variable) if a secret is missing."""
    return ChannelServices(
        dialogue=Dialogue.load(),
        sender_ids=SenderIds.from_env(os.environ),
        stores=stores_from_env(os.environ),
        queues=SenderQueues(),
        handoff=queue_from_env(os.environ),
    )
