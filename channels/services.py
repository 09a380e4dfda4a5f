"""What the messaging channels share in one server process: the dialogue's data (for the fallback
reply), the keyed sender ids, the dedupe and address stores, and the per-sender queues.

Built once, on the first channel's start-up, so a missing secret stops the server there.
"""

from __future__ import annotations

import os
import asyncio
import logging
import socket
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Optional

from rasa.core.channels.channel import OutputChannel
from sanic import Blueprint

from bot.dialogue import BotMessage, Dialogue
from bot.escalation import overdue, queue_from_env, to_counsellor
from bot.handoff import HandoffQueue, TicketError
from bot.sender_ids import SenderIds
from bot.stores import Stores, stores_from_env
from channels.safe_turn import SenderQueues

logger = logging.getLogger(__name__)

DEDUPE_TTL_S = 24 * 3600  # Telegram and Twilio give up retrying well within a day
ADDRESS_TTL_S = 7 * 24 * 3600  # long enough for a counsellor to answer; then forgotten
OVERDUE_CHECK_S = 15  # how often waiting children are checked against their desk's limit


@dataclass
class ChannelServices:
    dialogue: Dialogue
    sender_ids: SenderIds
    stores: Stores
    queues: SenderQueues
    handoff: HandoffQueue
    outputs: dict[str, Callable[[], OutputChannel]] = field(default_factory=dict)  # channel -> sender
    _delivery: Optional[asyncio.Task] = None

    def attach(self, webhook: Blueprint, channel: str, make_output: Callable[[], OutputChannel]) -> None:
        """Let counsellors' messages and waiting-time notices reach children on ``channel``."""
        self.outputs[channel] = make_output

        @webhook.listener("after_server_start")
        async def deliver(*_: object) -> None:
            self.start_delivery()

    def start_delivery(self) -> None:
        """Start sending counsellors' messages to children (once per process, in its event loop)."""
        if self._delivery is None:
            self._delivery = asyncio.get_running_loop().create_task(self._deliver_forever())

    async def _deliver_forever(self) -> None:
        consumer = f"{socket.gethostname()}-{os.getpid()}"
        last_check = 0.0
        while True:
            try:
                if time.monotonic() - last_check >= OVERDUE_CHECK_S:
                    last_check = time.monotonic()
                    await self.remind_overdue()
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
        """None when the bot should answer; else what to tell the child (often nothing)."""
        routed = await to_counsellor(self.handoff, sender, text)
        if routed is None:
            return None
        key = {"stopped": "stopped", "left": "handoff_left", "still waiting": "handoff_still_waiting"}.get(routed.what)
        return [BotMessage(self.dialogue.texts.get(key, routed.ticket.language))] if key else []

    async def remind_overdue(self, now: Optional[float] = None) -> int:
        """Tell each child waiting past their desk's limit how to reach the helpline directly."""
        told = 0
        for desk, ticket in await overdue(self.handoff, self.dialogue.desks, now or time.time()):
            try:
                await self.handoff.remind(ticket.id)  # first: with several servers, only one tells the child
            except TicketError:
                continue
            make = self.outputs.get(ticket.channel)
            if make is not None:
                await make().send_messages(ticket.conversation, self.dialogue.overdue(ticket, desk))
                told += 1
        return told


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
