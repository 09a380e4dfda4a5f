"""What the messaging channels share in one server process: the process's services (bot.wiring:
the dialogue for the fallback reply, the keyed sender ids, the stores, the handoff relay), the
per-sender queues, and the sender that empties the outbox of messages to children (bot.delivery)
on every channel this server runs.

Built once, on the first channel's start-up, so a missing secret stops the server there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Awaitable, Callable, Optional, Sequence

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint

from bot.conversation.dialogue import BotMessage, Dialogue
from bot.conversation.relay import Relay
from bot.delivery.outbox import RedisOutbox
from bot.delivery.policy import Policy
from bot.delivery.sender import Sender, default_consumer
from bot.delivery.transports import Transport
from bot.handoff.partner import deliver_to_partners
from bot.language.input_text import clean
from bot.privacy.sender_ids import SenderIds
from bot.storage.inbound import CLAIM, Claim, Handler, Worker, hold_for_request
from bot.storage.stores import STORE_FAULTS, Stores
from bot.storage.turn_gate import TurnGate
from bot.storage.turns import turn_of
from bot.wiring.faults import STORE_DOWN, TURN_FAILED, Faults
from bot.wiring.services import Services
from bot.wiring.services import services as process_services
from channels import kept_sessions
from channels.safe_turn import CountingOutput, SenderQueues, answer

logger = logging.getLogger(__name__)

OVERDUE_CHECK_S = 15  # how often waiting children are checked against their desk's limit
SWEEP_EVERY_S = 1.0  # how often this server looks for messages a dead server left unanswered


@dataclass
class ChannelServices:
    core: Services  # the process's (bot.wiring)
    queues: SenderQueues
    _notices: Optional[asyncio.Task] = None  # waiting children told of a longer wait
    _sending: Optional[asyncio.Task] = None  # the outbox's sender
    _partners: Optional[asyncio.Task] = None  # tickets to helplines' own systems (bot.handoff.partner)
    _sweep: Optional[asyncio.Task] = None  # journalled messages a dead server left (bot.storage.inbound)
    _doors: set[asyncio.Task] = field(default_factory=set)  # crisis tickets being opened (at_the_door)

    @cached_property
    def sender(self) -> Sender:
        """Sends the outbox's messages (counsellors', notices) on the channels attached here."""
        settings = self.core.settings
        return Sender(
            self.core.outbox,
            Policy(max_age_s=settings.delivery_max_age_s),
            settings.outbox_consumer or default_consumer(),
            settings.outbox_claim_idle_s,
        )

    @cached_property
    def worker(self) -> Worker:
        """Answers the journalled messages of Telegram, SMS and WhatsApp (bot.storage.inbound)."""
        worker = Worker(self.core.journal, gate=TurnGate(self.core.settings.turns_at_once))
        worker.finish = self.finish_turn
        return worker

    async def queue_replies(self, claim: Claim) -> None:
        """Put the turn's replies not yet queued in the child's outbox, for this server's sender to
        send at once. If the outbox cannot be written, they are sent straight away (the child is
        answered; if the turn is later handled again, it may be answered twice)."""
        fresh = claim.replies[claim.queued :]
        if not fresh:
            return
        try:
            taken = await self.core.outbox.enqueue_replies(fresh, self.sender.consumer)
        except STORE_FAULTS as error:
            self.faults.count(STORE_DOWN, error, "queueing a turn's replies")
            claim.queued += len(fresh)
            for message in fresh:
                if claim.send_now is not None:
                    await claim.send_now(message)
            return
        claim.queued += len(fresh)
        self.sender.offer(taken)

    def turn_replies(self, claim: Claim) -> "TurnReplies":
        """The turn's replies not yet queued, to be queued with the turn's commit (the tracker store's)."""
        return TurnReplies(self, claim, claim.replies[claim.queued :])

    async def finish_turn(self, claim: Claim) -> None:
        """The end of a journalled turn: replies not committed with the conversation's new state
        (a fail-safe reply, a turn that saved nothing) queued, then the message removed (fenced),
        unless it went with that state."""
        await self.queue_replies(claim)
        if not claim.removed:
            await self.core.journal.done(claim.lease, claim.entry)

    @property
    def faults(self) -> Faults:
        return self.core.faults

    @property
    def dialogue(self) -> Dialogue:
        return self.core.dialogue

    @property
    def sender_ids(self) -> SenderIds:
        return self.core.sender_ids

    @property
    def stores(self) -> Stores:
        return self.core.stores

    @property
    def relay(self) -> Relay:
        return self.core.relay

    def attach(
        self,
        webhook: Blueprint,
        channel: str,
        transport: Transport,
        handle: Optional[Handler] = None,
    ) -> None:
        """Let the outbox's messages (counsellors', waiting-time notices) reach children on
        ``channel`` through ``transport``, and ``handle`` its journalled messages (channels that
        answer off the request)."""
        self.sender.transports[channel] = transport
        if handle is not None:
            self.worker.handlers[channel] = handle

        @webhook.listener("after_server_start")
        async def deliver(*_: object) -> None:
            self.start_delivery()

        @webhook.listener("before_server_stop")
        async def stop(*_: object) -> None:
            await self.stop()

    def start_delivery(self) -> None:
        """Start the process's background work, once, in its event loop: the outbox's messages to
        children, notices to waiting children, tickets to helplines' own systems, and messages a
        dead server left unanswered."""
        if self._sending is None:
            from channels.outgoing import shared_transports  # the channels' classes, which import this module

            shared = shared_transports(self.core.settings, skip=frozenset(self.sender.transports))
            self.sender.transports.update(shared)
            loop = asyncio.get_running_loop()
            self._sending = loop.create_task(self.sender.run())
            self._notices = loop.create_task(self._notice_forever())
            self._partners = loop.create_task(
                deliver_to_partners(self.core.queue, self.core.desks, self.core.redis, self.core.prefix)
            )
            self._sweep = loop.create_task(self._sweep_forever())

    async def stop(self) -> None:
        """SIGTERM: the server no longer takes webhooks; let the turns and sends under way finish
        (within HELPLINE_SHUTDOWN_S) and leave what is left in the journal and the outbox for
        another server. Once."""
        if self._sending is None or self._sending.done():
            return
        for task in (self._notices, self._partners, self._sweep):
            if task is not None:
                task.cancel()
        limit_s = self.core.settings.shutdown_s
        started = time.monotonic()
        cut, handed = await asyncio.gather(self.worker.stop(limit_s), self.sender.stop(limit_s))
        try:  # web chat and rest turns under way, within what is left of the limit
            await asyncio.wait_for(self.queues.drain(), max(0.0, limit_s - (time.monotonic() - started)))
        except asyncio.TimeoutError:
            logger.warning("stopping: web chat or rest turns still running after %d s were cut short", limit_s)
        await kept_sessions.close()
        logger.warning(
            "stopped in %.1f s: %d conversations and %d outgoing messages handed to other servers",
            time.monotonic() - started,
            cut,
            handed,
        )

    def health(self) -> dict[str, Any]:
        """What the health route says: ``stopping`` once SIGTERM came, ``degraded`` while Redis is
        down (children get fail-safe replies), else ``ok``; with the fault counts."""
        redis = "none" if self.core.settings.in_memory else "down" if self.core.redis_guard.down else "up"
        status = "stopping" if self.worker.stopping else "degraded" if redis == "down" else "ok"
        return {"status": status, "redis": redis, "faults": self.faults.counts()}

    def urgent(self, text: Optional[str]) -> bool:
        """Whether a message just received speaks of a crisis (the phrase lists): its turn goes first."""
        return bool(text) and self.dialogue.crisis.check(clean(text)) is not None

    def accept(self, conversation: str) -> None:
        """A message of ``conversation`` is in the journal: answer it (after its earlier ones)."""
        self.worker.start(conversation)

    def knock(self, sender: str, channel: str, text: str, metadata: dict[str, Any], turn: str) -> None:
        """A message just received that speaks of a crisis (:meth:`urgent`): its ticket opens now
        (:meth:`at_the_door`), while the webhook journals it under ``turn``."""
        crisis = UserMessage(text, None, sender, input_channel=channel, metadata={**metadata, "turn": turn})
        door = asyncio.get_running_loop().create_task(self.at_the_door(crisis))
        self._doors.add(door)
        door.add_done_callback(self._doors.discard)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await asyncio.sleep(SWEEP_EVERY_S)
                await self.worker.sweep()
            except asyncio.CancelledError:
                raise
            except STORE_FAULTS as error:
                logger.warning("looking for unanswered messages failed (%s)", type(error).__name__)

    async def _notice_forever(self) -> None:
        while True:
            try:
                await self.relay.tell_waiting()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - keep checking after a failure
                logger.error("telling waiting children failed (%s)", type(error).__name__)
            await asyncio.sleep(OVERDUE_CHECK_S)

    def fallback(self, sender: str, text: str, metadata: Optional[dict[str, Any]]) -> list[BotMessage]:
        """The fail-safe reply: the numbers for the child's country, in their language, from what
        the channel says and what this process remembers of the child (bot.routing.hints.RecentHints)."""
        return self.dialogue.fallback(text, self.core.recent_hints.completed(sender, metadata))

    async def remember(self, sender: str, address: str) -> None:
        """Keep the child's address for the messages the server starts (a counsellor's); a store
        that fails costs those, not the reply to this message, which has the address at hand."""
        try:
            await self.stores.addresses.remember(sender, address, self.dialogue.retention.address_s)
        except STORE_FAULTS as error:
            self.faults.count(STORE_DOWN, error, "keeping a reply address")

    async def erase(self, sender: str) -> None:
        """Delete everything kept about the child (they asked, and confirmed)."""
        self.core.recent_hints.forget(sender)
        try:
            await self.core.eraser.erase(sender)
        except Exception as error:  # noqa: BLE001 - logged without the id; the child was already answered
            logger.error("erasing a conversation failed (%s)", type(error).__name__)

    async def counsellor_has(self, sender: str, text: str, turn: str = "") -> Optional[list[BotMessage]]:
        """None when the bot should answer; else what to tell the child (often nothing). With the
        message's turn key (bot.storage.turns), a message handled again is written to the counsellor once."""
        return await self.relay.child_wrote(sender, text, turn)

    async def turn(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        message: UserMessage,
        output: CountingOutput,
        timeout_s: float,
        before: Sequence[BotMessage] = (),
        replied: Optional[asyncio.Event] = None,
    ) -> None:
        """One message from a child: to their counsellor when one has the conversation (the bot
        stays out of it), else ``before`` and Rasa's answer (channels.safe_turn.answer)."""
        for_child = await self.counsellor_has(message.sender_id, message.text, turn_of(message.metadata))
        if for_child is not None:
            await output.send_messages(message.sender_id, for_child)
        elif before and not message.text:  # a picture alone: nothing else to answer
            await output.send_messages(message.sender_id, before)
        else:
            await answer(
                on_new_message,
                message,
                output,
                lambda: self.fallback(message.sender_id, message.text, message.metadata),
                timeout_s,
                list(before),
                self.erase,
                replied,
                self.faults,
            )

    async def _hold(self, sender: str, wait_s: float) -> Optional[Claim]:
        """The conversation's lease for a turn answered in its request (bot.storage.inbound)."""
        try:
            return await hold_for_request(self.core.journal, sender, wait_s)
        except STORE_FAULTS as error:  # the turn's own store calls fail the same way: fail-safe reply
            self.faults.count(STORE_DOWN, error, "taking a conversation's lease")
            return None

    async def _let_go(self, claim: Claim) -> None:
        try:
            await self.core.journal.hand_back(claim.lease)
        except STORE_FAULTS as error:  # then it lapses by itself
            self.faults.count(STORE_DOWN, error, "letting a conversation's lease go")

    async def at_the_door(self, message: UserMessage) -> None:
        """A crisis the phrase lists caught in a message the webhook has: its ticket opens now,
        beside the turn queue, without waiting for the child's earlier messages, Rasa or the action
        server (bot.conversation.relay.Relay.at_the_door). If that fails, the action opens it when
        the turn runs, as usual."""
        turn = turn_of(message.metadata)
        if not turn or not message.text:
            return
        hints = self.core.recent_hints.completed(message.sender_id, message.metadata)
        try:
            await self.relay.at_the_door(
                message.sender_id,
                message.input_channel,
                message.text,
                (hints.get("country"), hints.get("language")),
                lambda: self._said_before(message.sender_id),
                turn,
            )
        except Exception as error:  # noqa: BLE001 - the turn goes on; the action opens the ticket
            logger.error("opening a crisis ticket at once failed (%s)", type(error).__name__)

    async def _said_before(self, sender: str) -> tuple[str, ...]:
        """The child's messages in the stored conversation (bounded: channels.tracker_compaction)."""
        state = await self.stores.conversations.load(sender)
        events = json.loads(state).get("events", []) if state else []
        return tuple(str(e.get("text") or "") for e in events if isinstance(e, dict) and e.get("event") == "user")

    async def answer_in_request(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        message: UserMessage,
        output: CountingOutput,
        timeout_s: float,
    ) -> None:
        """For channels that reply in the HTTP answer (web chat, rest): the turn runs after the
        child's earlier ones, and this returns as soon as the child has a reply (a slow turn gets
        the fallback and goes on). A turn that failed before saying anything gets the fallback too."""
        replied = asyncio.Event()

        async def work() -> None:
            claim = await self._hold(message.sender_id, timeout_s)
            claimed = CLAIM.set(claim)
            try:
                await self.turn(on_new_message, message, output, timeout_s, replied=replied)
            finally:
                CLAIM.reset(claimed)
                if claim is not None:
                    await self._let_go(claim)

        turn = self.queues.submit(message.sender_id, work)
        waiting = asyncio.ensure_future(replied.wait())
        await asyncio.wait({turn, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        cancelled = turn.done() and turn.cancelled()  # shutting down
        error = None if cancelled or not turn.done() else turn.exception()
        if (cancelled or error is not None) and not output.sent:  # never silence
            self.faults.count(TURN_FAILED, error, f"a {message.input_channel} turn")
            said = self.fallback(message.sender_id, message.text, message.metadata)
            await output.send_messages(message.sender_id, said)


@lru_cache(maxsize=1)
def services() -> ChannelServices:
    """The process's channel services; raises (naming the variable) if a setting is missing."""
    core = process_services()
    core.sender_ids  # noqa: B018 - a missing or short HELPLINE_SENDER_KEY stops the server at start-up
    return ChannelServices(core=core, queues=SenderQueues())


@dataclass
class TurnReplies:
    """A turn's replies, queued in the child's outbox in the same transaction as the turn's new
    state (bot.storage.inbound's ``CommitsWith``), and sent by this server's sender once written."""

    services: ChannelServices
    claim: Claim
    fresh: list[Any]  # bot.delivery.outbox.Message

    @property
    def _outbox(self) -> RedisOutbox:
        """Only the journal on Redis commits in a transaction, and it goes with the outbox on Redis."""
        outbox = self.services.core.outbox
        if not isinstance(outbox, RedisOutbox):
            raise TypeError("a turn committed in a Redis transaction needs the outbox on Redis")
        return outbox

    async def within(self, transaction: Any) -> None:
        if self.fresh:
            await self._outbox.enqueue_replies_in(transaction, self.fresh, self.services.sender.consumer)

    def committed(self, answer: Any) -> None:
        if self.fresh:
            self.claim.queued += len(self.fresh)
            self.services.sender.offer(self._outbox.replies_taken(answer))

    async def alone(self) -> None:
        await self.services.queue_replies(self.claim)
