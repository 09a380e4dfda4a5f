"""Between a child and the counsellor who has, or will soon have, their conversation.

From the moment a ticket is opened until it is closed, the bot is out of the conversation: the
child's messages go to the counsellor (never through Rasa, where a typed ``/restart`` could undo
a pause), with three exceptions decided here: "stop" ends it, imminent danger gets the
emergency number at once (and moves the ticket up), and the short intake is answered while the
child waits. This module also says what a waiting child is told: their place in line, an honest
estimate, updates when the wait grows, and the helpline's own number when counsellors are away
or too slow.

With a turn key (bot.storage.turns), what the relay does for one message happens once even when
another server runs the turn again: the ticket is opened once and the child is told the same again,
and a message for the counsellor is written into the ticket's conversation once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import statistics
import time
from dataclasses import replace
from typing import Awaitable, Callable, Optional

from bot.conversation.dialogue import BotMessage, Choice, Dialogue, parse_choice
from bot.conversation.needs import IMMINENT_NEEDS, need_row
from bot.conversation.triage import overrule
from bot.delivery.outbox import Message
from bot.handoff.desks import HANDOFF_CHANNELS, KEEP_WAITING, LEAVE_QUEUE, STOP_WORDS, Desk, HandoffRequest
from bot.handoff.intake import QUESTIONS, SKIP, answered, first_step
from bot.handoff.outcomes import CHILD_LEFT
from bot.handoff.queue import HandoffQueue, Risk, State, Ticket, TicketError, raised
from bot.language.detection import fold

logger = logging.getLogger(__name__)

PACE_WINDOW_S = 2 * 3600  # claims older than this say nothing about today's pace
MIN_CLAIMS = 3  # fewer recent claims than this: no estimate, and the child is told so
UPDATE_EVERY_S = 120  # a waiting child hears about a longer wait at most this often
LATER_BY_S = 120  # ... and only when the expected time has moved this much
DELETE_COMMAND = "/delete"


def estimate_minutes(claims: list[float], position: int, now: float) -> Optional[int]:
    """Minutes until the child at ``position`` is likely claimed: the median gap between the
    helpline's recent claims, once per child ahead and their own. None when the helpline has not
    claimed enough tickets lately to tell."""
    recent = sorted(t for t in claims if now - t <= PACE_WINDOW_S)
    if len(recent) < MIN_CLAIMS:
        return None
    gap = statistics.median(b - a for a, b in zip(recent, recent[1:], strict=False))
    return max(1, math.ceil(position * gap / 60))


LAST_MESSAGES = 10  # the child's last messages a ticket shows the counsellor (this one included)


def _new_ticket(
    desk: Desk, request: HandoffRequest, conversation: str, channel: str, language: str, said: tuple[str, ...]
) -> Ticket:
    """A ticket for the desk's helpline (its own country's desk: the ticket's country too)."""
    return Ticket.new(
        desk.helpline, conversation, channel, desk.helpline, language, request.risk, request.reason, last_messages=said
    )


class Relay:
    """What the bot does and says around a handoff: the channels send what it returns in answer
    to a child's message; what it says on its own goes through the queue's outbox."""

    def __init__(self, dialogue: Dialogue, queue: HandoffQueue) -> None:
        self.dialogue = dialogue
        self.queue = queue

    # -- opening ----------------------------------------------------------------------------

    async def hand_off(
        self,
        desk: Desk,
        request: HandoffRequest,
        conversation: str,
        channel: str,
        language: str,
        last_messages: tuple[str, ...],
        now: Optional[float] = None,
        turn: str = "",
    ) -> list[BotMessage]:
        """Open the conversation's ticket (or find the one it has) and tell the child what happens;
        with a turn key, a second run of the turn opens nothing and is told what the first was."""
        if turn:
            done = await self.queue.turn_record(conversation, turn)
            if done.said:
                return _loaded(done.said)
        now = now or time.time()
        made = _new_ticket(desk, request, conversation, channel, language, last_messages)
        said = await self._tell(desk, *await self._open(desk, request, made, now, turn), now)
        if turn:
            await self.queue.note_said(conversation, turn, _dumped(said))
        return said

    async def at_the_door(
        self,
        conversation: str,
        channel: str,
        text: str,
        hints: tuple[Optional[str], Optional[str]],
        earlier: Callable[[], Awaitable[tuple[str, ...]]],
        turn: str,
    ) -> bool:
        """A crisis the phrase lists catch opens its ticket as soon as the webhook has it, beside
        the conversation's turn queue: under load Rasa and the action server take a second or more
        to reach it, and a counsellor should see a child in danger at once. Only with a turn key,
        where the child's helpline takes conversations on this channel, and not while a ticket is
        open (the message is then the counsellor's, :meth:`child_wrote`); a webhook sent again finds
        its ticket and opens nothing. The action's own ``hand_off`` for the same turn then finds
        this ticket and what the child was told, and says it. ``hints``: the conversation's
        (country, language) as known; ``earlier``: loads the child's messages before this one, which
        join the ticket once it is open (its first sight in the console waits for nothing)."""
        match = self.dialogue.crisis.check(text) if turn and channel in HANDOFF_CHANNELS else None
        urgency = need_row(match.intent).urgency if match else None
        country, language = hints
        desk = self.dialogue.desks.get(country)
        if match is None or urgency is None or desk is None:
            return False
        language = language if language in self.dialogue.registry.codes else match.language
        now = time.time()
        request = HandoffRequest(urgency, match.intent)
        made = _new_ticket(desk, request, conversation, channel, language, (text,))
        ticket, mine = await self._open(desk, request, made, now, turn)
        if ticket.id != made.id:  # a counsellor has the child already, or this webhook came before
            return False
        before = await earlier()
        if before:
            context = (*before, text)[-LAST_MESSAGES:]
            ticket = await self.queue.update(ticket.id, lambda t: replace(t, last_messages=context))
        await self.queue.note_said(conversation, turn, _dumped(await self._tell(desk, ticket, mine, now)))
        return True

    async def _open(
        self, desk: Desk, request: HandoffRequest, made: Ticket, now: float, turn: str
    ) -> tuple[Ticket, bool]:
        """The conversation's ticket (``made``, with its first intake question, none while no
        counsellor is on shift), and whether it is this turn's own; its "opened" event goes out
        in the same step."""
        intake_step = first_step(request.risk) if desk.state(_moment(now)).open else None
        ticket = await self.queue.open(replace(made, intake_step=intake_step), turn)
        # A turn run again after it opened the ticket but before the child's answer was kept: as if new.
        return ticket, ticket.id == made.id or await self._opened_by(made.conversation, turn, ticket)

    async def _tell(self, desk: Desk, ticket: Ticket, mine: bool, now: float) -> list[BotMessage]:
        """What the child is told of their ticket: their place and wait, or that no one is on shift."""
        moment = _moment(now)
        counsellors = desk.state(moment)
        if not counsellors.open and mine:
            if not ticket.reminded:
                ticket = await self.queue.remind(ticket.id)
            return self.dialogue.overdue(ticket, desk, counsellors, moment)
        place, claims = await asyncio.gather(self.queue.position(ticket.id), self.queue.recent_claims(desk.helpline))
        position = place or 1
        minutes = estimate_minutes(claims, position, now)
        ticket = await self._told(ticket, position, minutes, now)
        said = [self._place(ticket.language, "handoff_queued", desk, position, minutes)]
        if ticket.intake_step:
            said.append(self.intake_question(ticket.language, ticket.intake_step))
        return said

    async def _opened_by(self, conversation: str, turn: str, ticket: Ticket) -> bool:
        return bool(turn) and (await self.queue.turn_record(conversation, turn)).opened == ticket.id

    # -- the child writes -------------------------------------------------------------------

    async def child_wrote(self, conversation: str, text: str, turn: str = "") -> Optional[list[BotMessage]]:
        """None when the bot should answer; else what to tell the child (often nothing). With a turn
        key, a message handled before is not written again and gets the answer it got then; the
        message that opened the ticket goes back to the bot, whose turn it was."""
        try:
            ticket = await self.queue.active(conversation)
            done = await self.queue.turn_record(conversation, turn) if turn and ticket else None
        except Exception as error:  # noqa: BLE001 - the store is down: let the bot (and its fallback) answer
            logger.error("handoff store unreachable (%s): the bot answers", type(error).__name__)
            return None
        if ticket is None:
            return None
        if done and done.opened:
            return None
        if done and done.said:
            return _loaded(done.said)
        said = await self._wrote(ticket, text, turn)
        if turn and said is not None:
            await self.queue.note_said(conversation, turn, _dumped(said))
        return said

    async def _wrote(self, ticket: Ticket, text: str, turn: str) -> Optional[list[BotMessage]]:
        answer = fold(text).strip(" .!")
        lang = ticket.language
        if answer in STOP_WORDS:
            await self.queue.close(ticket.id, CHILD_LEFT)
            return [self._text("stopped", lang)]
        if answer == DELETE_COMMAND:  # Telegram's /delete: the handoff ends, the bot asks to confirm
            await self.queue.close(ticket.id, CHILD_LEFT)
            return None
        if overrule(None, self.dialogue.crisis.check(text)) in IMMINENT_NEEDS:
            ticket = await self.queue.update(ticket.id, lambda t: replace(raised(t, Risk.IMMINENT), intake_step=None))
            await self.queue.append(ticket, "child", text, turn)
            return [self.dialogue.emergency_for(ticket.country, lang)]
        if ticket.state is State.WAITING and ticket.reminded and answer in (KEEP_WAITING, LEAVE_QUEUE):
            if answer == LEAVE_QUEUE:
                await self.queue.expire(ticket.id)
                return [self._text("handoff_left", lang)]
            return [self._text("handoff_still_waiting", lang)]
        if ticket.state is State.WAITING and ticket.intake_step:
            return await self._intake(ticket, ticket.intake_step, text, turn)
        await self.queue.append(ticket, "child", text, turn)
        return []

    async def _intake(self, ticket: Ticket, step: str, text: str, turn: str = "") -> list[BotMessage]:
        number = parse_choice(text)
        after = await self.queue.update(ticket.id, lambda t: answered(t, text, number))
        if number is None and text.strip() != SKIP:
            await self.queue.append(after, "child", text, turn)  # the child's own words are part of the conversation
        if after.intake_step == step:
            return [self.intake_question(after.language, step)]  # not one of the options: asked again
        if after.intake_step:
            return [self.intake_question(after.language, after.intake_step)]
        return [self._text("intake_done", after.language)]

    def intake_question(self, language: str, step: str) -> BotMessage:
        key, options = QUESTIONS[step]
        question = self.dialogue.texts.get(key, language)
        skip = f"{SKIP}. {self.dialogue.texts.get('option_skip', language)}"
        if not options:
            return BotMessage(f"{question}\n{skip}")
        lines, choices = self.dialogue.numbered(language, options)
        return BotMessage(f"{question}\n{lines}\n{skip}", choices)

    # -- while waiting ----------------------------------------------------------------------

    async def notices(self, now: Optional[float] = None) -> list[tuple[Ticket, list[BotMessage]]]:
        """What waiting children should be told now: the helpline's number when the wait passed
        the desk's limit (once), or their new place and estimate when the wait has grown."""
        now = now or time.time()
        found = []
        for desk in self.dialogue.desks.all():
            claims = await self.queue.recent_claims(desk.helpline)
            for position, ticket in enumerate(await self.queue.waiting(desk.helpline), start=1):
                try:
                    said = await self._notice(desk, ticket, position, claims, now)
                except TicketError:  # another server got there first, or the ticket moved on
                    continue
                if said:
                    found.append((ticket, said))
        return found

    async def tell_waiting(self, now: Optional[float] = None) -> int:
        """Queue in the outbox what waiting children should be told now (:meth:`notices`);
        returns how many children were told something."""
        told = await self.notices(now)
        for ticket, said in told:
            for message in said:
                buttons = tuple((choice.title, choice.payload) for choice in message.choices)
                await self.queue.outbox.enqueue(Message(ticket.conversation, ticket.channel, message.text, buttons))
        return len(told)

    async def _notice(
        self, desk: Desk, ticket: Ticket, position: int, claims: list[float], now: float
    ) -> list[BotMessage]:
        if not ticket.reminded and now - ticket.created_at >= desk.max_wait_minutes * 60:
            reminded = await self.queue.remind(ticket.id)  # first: with several servers, only one tells the child
            await self._told(reminded, position, ticket.told_minutes, now)
            moment = _moment(now)
            return self.dialogue.overdue(reminded, desk, desk.state(moment), moment)
        if now - ticket.told_at < UPDATE_EVERY_S:
            return []
        minutes = estimate_minutes(claims, position, now)
        moved_back = ticket.told_position is not None and position > ticket.told_position
        expected = None if minutes is None else now + minutes * 60
        promised = None if ticket.told_minutes is None else ticket.told_at + ticket.told_minutes * 60
        later = expected is not None and (promised is None or expected - promised >= LATER_BY_S)
        if not (moved_back or later):
            return []
        await self._told(ticket, position, minutes, now)
        return [self._place(ticket.language, "handoff_update", desk, position, minutes)]

    async def _told(self, ticket: Ticket, position: int, minutes: Optional[int], now: float) -> Ticket:
        def told(current: Ticket) -> Ticket:
            if current.told_at != ticket.told_at:
                raise TicketError("already told")
            return replace(current, told_position=position, told_minutes=minutes, told_at=now)

        return await self.queue.update(ticket.id, told)

    # -- texts ------------------------------------------------------------------------------

    def _place(self, language: str, key: str, desk: Desk, position: int, minutes: Optional[int]) -> BotMessage:
        texts = self.dialogue.texts
        place = texts.get(key, language, helpline=desk.name, position=position)
        wait = (
            texts.get("handoff_estimate", language, minutes=minutes)
            if minutes
            else texts.get("handoff_no_estimate", language)
        )
        return BotMessage(f"{place} {wait}")

    def _text(self, key: str, language: str) -> BotMessage:
        return BotMessage(self.dialogue.texts.get(key, language))


def _dumped(said: list[BotMessage]) -> str:
    """What the child was told, as a turn record keeps it: the bot's words, never the child's."""
    return json.dumps([[m.text, [[c.number, c.title] for c in m.choices]] for m in said], ensure_ascii=False)


def _loaded(raw: str) -> list[BotMessage]:
    return [
        BotMessage(text, tuple(Choice(number, title) for number, title in choices)) for text, choices in json.loads(raw)
    ]


def _moment(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.timezone.utc)
