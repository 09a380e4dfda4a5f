"""What the messaging channels share in one server process: the dialogue's data (for the fallback
reply), the keyed sender ids, the dedupe and address stores, and the per-sender queues.

Built once, on the first channel's start-up, so a missing secret stops the server there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from bot.dialogue import Dialogue
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


@lru_cache(maxsize=1)
def services() -> ChannelServices:
    """The process's shared services; raises (naming the variable) if a secret is missing."""
    return ChannelServices(
        dialogue=Dialogue.load(),
        sender_ids=SenderIds.from_env(os.environ),
        stores=stores_from_env(os.environ),
        queues=SenderQueues(),
    )
