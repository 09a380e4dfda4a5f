"""Running one child's message through Rasa off the webhook request: in order, on time, never silent.

Telegram and Twilio retry a webhook that is slow to answer, so the channels acknowledge at once and
handle the message in a task. The tasks of one sender run one after another, in arrival order, so a
burst of short messages is answered in order. If Rasa raises, takes longer than the channel's
limit, or answers nothing (the action server is down), the child still gets their helpline and
emergency number from the routing table (``Dialogue.fallback``).
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from typing import Any, Awaitable, Callable, Optional, Sequence

from rasa.core.channels.channel import OutputChannel, UserMessage
from redis.exceptions import RedisError

from bot.conversation.dialogue import BotMessage
from bot.delivery.outbox import Message
from bot.privacy.erasure import asks_to_erase
from bot.storage.inbound import CLAIM, Claim, LeaseLost
from bot.wiring.faults import STORE_DOWN, TURN_FAILED, TURN_SILENT, TURN_SLOW, Faults

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
LATE_TURN_LIMIT_S = 60  # how long a turn past the reply limit may still run, holding the child's later messages


class CountingOutput(OutputChannel):
    """An output channel that counts what it delivered, so a silent turn can be noticed, and
    notes when the reply asks for the child's data to be erased (bot.privacy.erasure.ERASE)."""

    def __init__(self) -> None:
        self.sent = 0
        self.erase_requested = False

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        self.erase_requested = self.erase_requested or asks_to_erase(json_message)

    @abstractmethod
    async def deliver(self, recipient_id: str, text: str, buttons: Sequence[dict[str, Any]]) -> bool:
        """Send one message (buttons as Rasa gives them: title and payload); False if nobody to send to."""

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.sent += await self.deliver(recipient_id, text, ())

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        self.sent += await self.deliver(recipient_id, text, buttons)

    async def send_messages(self, recipient_id: str, messages: Sequence[BotMessage]) -> None:
        for message in messages:
            buttons = [{"title": choice.title, "payload": choice.payload} for choice in message.choices]
            await self.send_text_with_buttons(recipient_id, message.text, buttons)

    async def flush(self) -> None:
        """Let what was delivered so far go out now (a fail-safe reply while the turn runs on)."""


class QueuedOutput(CountingOutput):
    """The replies of a journalled turn (bot.storage.inbound): kept on the turn's claim and queued
    in the child's ordered outbox when the turn is committed, with keys made from the turn's, so a
    turn handled twice (its server died before it was committed) queues its replies once, and
    whichever server's sender has them sends them after the child's earlier messages. Without a
    claim (a message Rasa starts), or once the child asked for everything to be erased (the outbox
    goes too), a reply is sent at once: :meth:`send_now`, which needs no store, as does the
    fail-safe when the outbox cannot be written."""

    def __init__(self, channel: str, queue: Callable[[Claim], Awaitable[None]]) -> None:
        """``queue(claim)``: puts the claim's new replies in the outbox (ChannelServices.queue_replies)."""
        super().__init__()
        self._channel_name, self._queue = channel, queue

    @abstractmethod
    async def send_now(self, recipient_id: str, text: str, buttons: Sequence[dict[str, Any]]) -> bool:
        """Send one message through the channel's API at once; False if nobody to send to."""

    async def deliver(self, recipient_id: str, text: str, buttons: Sequence[dict[str, Any]]) -> bool:
        claim = CLAIM.get()
        if claim is None or claim.lease.conversation != recipient_id or self.erase_requested:
            return await self.send_now(recipient_id, text, buttons)
        pairs = tuple((str(b["title"]), str(b["payload"])) for b in buttons)
        claim.replies.append(
            Message(recipient_id, self._channel_name, text, pairs, f"{claim.key}:{len(claim.replies)}")
        )
        claim.send_now = self._send_message
        return True

    async def _send_message(self, message: Message) -> bool:
        buttons = [{"title": title, "payload": payload} for title, payload in message.buttons]
        return await self.send_now(message.conversation, message.text, buttons)

    async def flush(self) -> None:
        claim = CLAIM.get()
        if claim is not None:
            await self._queue(claim)


class SenderQueues:
    """Runs each sender's turns one at a time, in the order they arrived; other senders run freely."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, int] = {}  # turns submitted and not finished, per sender
        self._tasks: set[asyncio.Task] = set()

    def submit(self, sender_id: str, work: Callable[[], Awaitable[None]]) -> asyncio.Task:
        lock = self._locks.setdefault(sender_id, asyncio.Lock())
        self._pending[sender_id] = self._pending.get(sender_id, 0) + 1

        async def run() -> None:
            try:
                async with lock:  # asyncio.Lock wakes waiters first-come, first-served
                    await work()
            finally:
                self._pending[sender_id] -= 1
                if not self._pending[sender_id]:  # nobody waits: forget the sender
                    del self._pending[sender_id], self._locks[sender_id]

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait for every submitted turn (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def answer(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    message: UserMessage,
    output: CountingOutput,
    fallback: Callable[[], list[BotMessage]],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    before: Optional[list[BotMessage]] = None,
    erase: Optional[Callable[[str], Awaitable[None]]] = None,
    replied: Optional[asyncio.Event] = None,
    faults: Optional[Faults] = None,
) -> None:
    """One turn: ``before`` (e.g. "I don't look at pictures"), then Rasa's reply, or the fallback;
    then, if the reply asked for it, ``erase`` of everything kept about the sender. ``replied`` is
    set once the child has an answer, before a slow turn is waited for (a web request returns then).
    A turn that failed, was late or said nothing is counted in ``faults``."""
    if before:
        await output.send_messages(message.sender_id, before)
    expected = output.sent
    turn = asyncio.ensure_future(on_new_message(message))
    fault: Optional[tuple[str, Optional[BaseException]]] = None
    try:
        await asyncio.wait_for(asyncio.shield(turn), timeout_s)
    except asyncio.TimeoutError as error:
        fault = (TURN_SLOW, error)
    except LeaseLost:
        raise  # another server has the conversation now, and answers this message
    except Exception as error:  # noqa: BLE001 - any failure must still leave the child a number
        fault = (STORE_DOWN if isinstance(error, RedisError) else TURN_FAILED, error)  # RedisError: the tracker store
    if fault is None and output.sent == expected:
        fault = (TURN_SILENT, None)
    if fault is not None and faults is not None:
        faults.count(*fault, f"a {message.input_channel} turn")
    if output.sent == expected:
        try:
            await output.send_messages(message.sender_id, fallback())
            await output.flush()
        except Exception as error:  # noqa: BLE001
            logger.error("could not send the fallback reply on %s (%s)", message.input_channel, type(error).__name__)
    if replied is not None:
        replied.set()
    await _finished(turn, message.input_channel)
    if output.erase_requested and erase is not None:
        await erase(message.sender_id)


async def _finished(turn: asyncio.Future, channel: str) -> None:
    """Let a slow turn end before this child's next message (or an erasure) starts: cancelling it
    would not stop the action server, which could still open a ticket or save the conversation
    after what comes next. Past ``LATE_TURN_LIMIT_S`` it is cancelled after all."""
    try:
        await asyncio.wait_for(turn, LATE_TURN_LIMIT_S)
    except asyncio.TimeoutError:
        logger.error("a turn on %s was still running after %d s: cancelled", channel, LATE_TURN_LIMIT_S)
    except Exception:  # noqa: BLE001 - already logged above, and the child already has an answer
        pass
