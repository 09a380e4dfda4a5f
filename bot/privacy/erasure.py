"""Erasing everything kept about one child, when they ask ("delete my data", Telegram's /delete).

What is kept about a child, all under their hashed sender id: the conversation (Rasa's state),
their address (phone number or chat id), the ids of their messages already handled (dedupe), a web
chat's inbox of messages not yet fetched, the tickets of any handoff with their messages, and
what each turn did to the handoff (the queue's turn records, bot.storage.turns, which a server
running a turn again reads), and the counter of the conversation's fencing tokens
(bot.storage.inbound). Erasure removes all of it, except a transcript a helpline must keep by law
(``keep_on_erasure_days`` in handoff.yml), which then expires after that period. Anonymous
statistics hold nobody, so there is nothing of the child in them to erase (their marks of the turns
already counted name a digest of the turn key only, and expire within a day).

The dialogue decides (``Outcome.erase``, after the child confirms); the action marks its reply
with ``ERASE``; the channel erases once Rasa has saved the turn, so nothing is written back after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from bot.handoff.outcomes import CHILD_LEFT
from bot.handoff.queue import HandoffQueue, TicketError
from bot.storage.inbound import Journal
from bot.storage.stores import Stores

ERASE = {"erase": True}  # the custom message an action adds to a reply to ask the channel to erase


def asks_to_erase(custom: object) -> bool:
    return isinstance(custom, dict) and custom.get("erase") is True


@dataclass
class Eraser:
    stores: Stores
    queue: HandoffQueue
    hold_s: Callable[[str], int]  # per helpline: seconds a law makes it keep a transcript
    journal: Journal

    async def erase(self, conversation: str) -> None:
        """Remove everything keyed to ``conversation`` (a hashed sender id)."""
        active = await self.queue.active(conversation)
        if active is not None:
            try:
                await self.queue.close(active.id, CHILD_LEFT)  # the counsellor sees the child has gone
            except TicketError:
                pass  # closed meanwhile
        await self.queue.erase(conversation, self.hold_s)
        await self.stores.conversations.delete(conversation)
        await self.stores.addresses.forget(conversation)
        await self.stores.dedupe.forget_sender(conversation)
        await self.stores.inbox.delete(conversation)
        await self.journal.forget(conversation)
