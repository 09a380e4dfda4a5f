"""What the dialogue and the handoff queue call at the moment something happens.

Each call takes only dimensions (or a ticket, from which only dimensions are read), turns anything
unexpected into a code ("unknown", "other"), and adds one to a counter. Statistics must never cost
a child an answer: a call waits at most ``timeout_s``, and a failing store is logged, without any
personal data, and otherwise ignored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Callable, Collection, Optional, Union

from bot.handoff.outcomes import CHILD_LEFT, Outcomes
from bot.handoff.queue import Risk, State, Ticket, ever_claimed, first_claim
from bot.language.detection import LanguageRegistry
from bot.routing.countries import is_country_code
from bot.stats.categories import MENU_CHOICE, OTHER, Categories
from bot.stats.counters import ContactEvent, Event, HandoffEvent, StatsCounter, week_of

logger = logging.getLogger(__name__)

CHANNELS = ("telegram", "whatsapp", "sms", "rest", "web")
BOT_ANSWERED = "bot_answered"  # the outcome of a need the bot answered by itself
EXPIRED = "expired"  # a ticket nobody claimed in time, or the child chose to stop waiting
CONVERSATIONS, OPENED, ABANDONED = "conversations", "opened", "abandoned"
# Time to claim, in coarse buckets: (upper limit in seconds, figure name).
CLAIM_BUCKETS = (
    (60, "claimed_under_1m"),
    (300, "claimed_1_to_5m"),
    (900, "claimed_5_to_15m"),
    (3600, "claimed_15_to_60m"),
    (float("inf"), "claimed_over_60m"),
)
Moment = Union[dt.datetime, float, None]  # aware datetime, Unix time, or None for now


class StatsRecorder:
    """The calls to make as things happen; each counts only codes, and never raises."""

    def __init__(
        self,
        counter: StatsCounter,
        categories: Categories,
        languages: Collection[str],
        outcomes: Collection[str],
        timeout_s: float = 0.5,
    ) -> None:
        self.counter = counter
        self._needs = categories.needs
        self._languages = frozenset(languages)
        self._outcomes = frozenset(outcomes) | {BOT_ANSWERED, EXPIRED}
        self._timeout_s = timeout_s

    # -- the calls ---------------------------------------------------------------------------

    async def record_need(
        self,
        country: Optional[str],
        channel: Optional[str],
        language: Optional[str],
        need: str,
        risk: Optional[Risk] = None,
        when: Moment = None,
    ) -> None:
        """The bot answered a message about ``need`` (``Outcome.need``; "choice:2" counts as a menu choice)."""
        await self._count(lambda: [self._answered(country, channel, language, need, risk, when)])

    def _answered(
        self,
        country: Optional[str],
        channel: Optional[str],
        language: Optional[str],
        need: str,
        risk: Optional[Risk],
        when: Moment,
    ) -> ContactEvent:
        return ContactEvent(
            _week(when),
            _country(country),
            _channel(channel),
            self._language(language),
            self._need(need),
            _risk(risk),
            BOT_ANSWERED,
        )

    async def record_turn(
        self,
        need: str,
        risk: Optional[Risk],
        country: Optional[str],
        language: Optional[str],
        channel: Optional[str],
        country_before: Optional[str],
        turn: str = "",
    ) -> None:
        """One answered message: its need, and the conversation itself once its country is first known
        (both at once: the statistics cost a turn one round trip). With a turn key (bot.storage.turns),
        a turn run again by another server is not counted again."""
        if turn:

            def events() -> list[Event]:
                found: list[Event] = [self._answered(country, channel, language, need, risk, None)]
                if country and not country_before:
                    found.append(HandoffEvent(_week(None), _country(country), _channel(channel), CONVERSATIONS))
                return found

            await self._count(events, turn)
            return
        counts = [self.record_need(country, channel, language, need, risk)]
        if country and not country_before:
            counts.append(self.record_conversation(country, channel))
        await asyncio.gather(*counts)

    async def record_conversation(self, country: Optional[str], channel: Optional[str], when: Moment = None) -> None:
        """A conversation whose country is now known (once per conversation): the base of the share handed off."""
        await self._count(lambda: [HandoffEvent(_week(when), _country(country), _channel(channel), CONVERSATIONS)])

    async def record_ticket_opened(self, ticket: Ticket) -> None:
        await self._count(lambda: [self._figure(ticket, OPENED)])

    async def record_ticket_claimed(self, ticket: Ticket, waited_s: Optional[float] = None) -> None:
        """The first claim only (not a transfer); the wait defaults to the claimed ticket's own times."""

        def events() -> list[Event]:
            waited = ticket.updated_at - ticket.created_at if waited_s is None else waited_s
            return [self._figure(ticket, next(name for limit, name in CLAIM_BUCKETS if waited < limit))]

        await self._count(events)

    async def ticket_changed(self, before: Optional[Ticket], after: Ticket) -> None:
        """As a handoff queue's observer (bot.handoff.queue.TicketObserver): opened, first claimed, ended."""
        if before is None:
            await self.record_ticket_opened(after)
        elif first_claim(before, after):
            await self.record_ticket_claimed(after)
        elif before.state in (State.WAITING, State.CLAIMED) and after.state in (State.CLOSED, State.EXPIRED):
            await self.record_ticket_closed(after)

    async def record_ticket_closed(self, ticket: Ticket) -> None:
        """A ticket closed (its outcome) or expired; abandoned if nobody had claimed it."""

        def events() -> list[Event]:
            if ticket.state not in (State.CLOSED, State.EXPIRED):
                return []
            outcome = EXPIRED if ticket.state is State.EXPIRED else self._outcome(ticket.outcome)
            found: list[Event] = [
                ContactEvent(
                    _week(ticket.created_at),
                    _country(ticket.helpline),
                    _channel(ticket.channel),
                    self._language(ticket.language),
                    self._need(ticket.reason),
                    _risk(ticket.risk),
                    outcome,
                )
            ]
            if not ever_claimed(ticket) and outcome in (EXPIRED, CHILD_LEFT):
                found.append(self._figure(ticket, ABANDONED))
            return found

        await self._count(events)

    # -- turning values into codes -----------------------------------------------------------

    def _language(self, language: Optional[str]) -> str:
        return language if language in self._languages else OTHER

    def _need(self, need: str) -> str:
        if isinstance(need, str) and need.startswith("choice:"):
            return MENU_CHOICE
        return need if need in self._needs else OTHER

    def _outcome(self, outcome: Optional[str]) -> str:
        return outcome if outcome in self._outcomes else OTHER

    def _figure(self, ticket: Ticket, figure: str) -> HandoffEvent:
        """A ticket's figures all count in the week it was opened, so a week's claims never exceed its tickets."""
        return HandoffEvent(_week(ticket.created_at), _country(ticket.helpline), _channel(ticket.channel), figure)

    async def _count(self, events: Callable[[], list[Event]], turn: str = "") -> None:
        """Build the events here, so that a bad value is caught and logged like a failing store;
        with a turn key, all of them at once and only the turn's first time."""
        try:
            found = events()
            if turn:
                await asyncio.wait_for(self.counter.count_once(turn, found), self._timeout_s)
                return
            await asyncio.wait_for(asyncio.gather(*(self.counter.count(event) for event in found)), self._timeout_s)
        except Exception as error:  # noqa: BLE001 - statistics never break a conversation
            logger.error("statistics not counted (%s)", type(error).__name__)


def _week(when: Moment) -> str:
    if when is None:
        when = time.time()
    if not isinstance(when, dt.datetime):
        when = dt.datetime.fromtimestamp(when, dt.timezone.utc)
    return week_of(when)


def _country(country: Optional[str]) -> str:
    return country.upper() if is_country_code(country) else "unknown"  # type: ignore[union-attr]


def _channel(channel: Optional[str]) -> str:
    if channel is None:
        return "rest"
    return channel if channel in CHANNELS else OTHER


def _risk(risk: Optional[Risk]) -> str:
    return risk.name.lower() if isinstance(risk, Risk) else "none"


def recorder(counter: StatsCounter, registry: Optional[LanguageRegistry] = None) -> StatsRecorder:
    """A recorder that knows the shipped needs, languages and outcome codes."""
    return StatsRecorder(
        counter, Categories.load(), (registry or LanguageRegistry()).recognised_codes, Outcomes.load().codes
    )
