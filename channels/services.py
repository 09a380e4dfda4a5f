"""What the messaging channels share in one server process: the dialogue's data (for the fallback
reply), the keyed sender ids, the dedupe and address stores, and the per-sender queues.

Built once, on the first channel's start-up, so a missing secret stops the server there.
"""

from __future__ import annotations

import os
import asyncio
import logging
import socket
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional

from rasa.core.channels.channel import OutputChannel

from bot.dialogue import BotMessage, Dialogue
from bot.escalation import queue_from_env, to_counsellor
from bot.handoff import HandoffQueue, State
from bot.sender_ids import SenderIds
from bot.stores import Stores, stores_from_env
from channels.safe_turn import SenderQueues

logger = logging.getLogger(__name__)

DEDUPE_TTL_S = 24 * 3600  # Telegram and Twilio give up retrying well within a day
ADDRESS_TTL_S = 7 * 24 * 3600  # long enough for a counsellor to answer; then forgotten


@dataclass
class ChannelServices:
    dialogue: Dialogue
    sender_ids: SenderIds
    stores: Stores
    queues: SenderQueues
    handoff: HandoffQueue
    outputs: dict[str, Callable[[], OutputChannel]] = field(default_factory=dict)  # channel -> sender
    _delivery: Optional[asyncio.Task] = None

    def start_delivery(self) -> None:
        """Start sending counsellors' messages to children (once per process, in its event loop)."""
        if self._delivery is None:
            self._delivery = asyncio.get_running_loop().create_task(self._deliver_forever())

    async def _deliver_forever(self) -> None:
        consumer = f"{socket.gethostname()}-{os.getpid()}"
        while True:
            try:
                for item in await self.handoff.outgoing(consumer, block_ms=1000):
                    make = self.outputs.get(item.channel)
                    if make is None:
                        logger.error("a counsellor's message for %s, a channel this server does not run", item.channel)
                    else:
                        await make().send_text_message(item.conversation, item.text)
                    await self.handoff.sent(item)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - keep delivering after a failure
                logger.error("delivering a counsellor's message failed (%s)", type(error).__name__)
                await asyncio.sleep(1)

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
