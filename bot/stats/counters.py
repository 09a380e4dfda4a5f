"""Anonymous counters: how many times each combination of dimensions happened in a week.

A counter knows only the week and coarse codes (country, channel, language, need, risk, outcome, or
a handoff figure): never a conversation id, a text, a counsellor or a time finer than the week. So
there is nothing to find a child by, and nothing to delete when one asks. In deployment each week is
one Redis hash, ``<prefix>stats:2026-W48``, whose fields are the cells (HINCRBY); the key expires
``statistics_days`` (data/privacy.yml) after the week ends. The memory store keeps the same interface
for the local quick start and for tests.

A turn that another server runs again (bot.storage.turns) is counted once: ``count_once`` adds its
events only if ``<prefix>stats:turn:<mark>`` could be set (SET NX, in the same Lua script as the
counts). That marker holds no count and no code; its name is a digest of the turn key, and it
expires after ``TURN_KEPT_S`` (a day), so it is not erased with the conversation: it cannot be
linked to a child without their message's id, and is gone within a day.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from dataclasses import astuple, dataclass
from typing import Callable, Protocol, Sequence, Union

from bot.storage.stores import RedisClient, _ExpiringDict, as_text
from bot.storage.turns import TURN_KEPT_S, mark

DEFAULT_RETENTION_S = 730 * 86_400  # two years after the week ends (data/privacy.yml's statistics_days)
_SEPARATOR = "|"
_CODE = re.compile(r"^[A-Za-z0-9_]{1,40}$")  # a code, never free text: no spaces, no separator
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
CONTACT, HANDOFF = "c", "h"  # what a field counts: a contact (need answered, ticket closed) or a handoff figure


def week_of(moment: dt.datetime) -> str:
    """The ISO week (in UTC) of an aware moment, as in "2026-W48"."""
    year, week, _ = moment.astimezone(dt.timezone.utc).isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(week: str) -> dt.date:
    match = _WEEK.match(week)
    if not match:
        raise ValueError(f"{week!r} is not an ISO week such as 2026-W48")
    return dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)


def week_end(week: str) -> dt.datetime:
    """When the week is over: the next Monday, 00:00 UTC."""
    monday = week_monday(week) + dt.timedelta(days=7)
    return dt.datetime(monday.year, monday.month, monday.day, tzinfo=dt.timezone.utc)


class _Cell:
    """Checks that every dimension is a code, so no text or id can reach the store by mistake."""

    def __post_init__(self) -> None:
        week_monday(self.week)  # type: ignore[attr-defined]
        for value in astuple(self)[1:]:  # type: ignore[call-overload]
            if not isinstance(value, str) or not _CODE.match(value):
                raise ValueError(f"a statistics dimension must be a short code, not {value!r}")


@dataclass(frozen=True)
class ContactEvent(_Cell):
    """A need the bot answered (outcome "bot_answered") or a ticket's end (its outcome)."""

    week: str
    country: str  # ISO code or "unknown"
    channel: str
    language: str
    need: str
    risk: str  # none, asked, harm, imminent
    outcome: str

    @property
    def field(self) -> str:
        return _SEPARATOR.join((CONTACT, *astuple(self)[1:]))


@dataclass(frozen=True)
class HandoffEvent(_Cell):
    """One of a helpline's handoff figures: conversations, tickets opened, claimed by wait, abandoned."""

    week: str
    country: str  # the helpline's country code
    channel: str
    figure: str

    @property
    def field(self) -> str:
        return _SEPARATOR.join((HANDOFF, *astuple(self)[1:]))


Event = Union[ContactEvent, HandoffEvent]


def parse(week: str, field: str) -> Event:
    """The cell a stored field counts (the inverse of ``Event.field``)."""
    kind, *values = field.split(_SEPARATOR)
    if kind == CONTACT and len(values) == 6:
        return ContactEvent(week, *values)
    if kind == HANDOFF and len(values) == 3:
        return HandoffEvent(week, *values)
    raise ValueError(f"{field!r} is not a statistics field")


class StatsCounter(Protocol):
    async def count(self, event: Event) -> None:
        """Add one to the event's cell."""

    async def week(self, week: str) -> dict[Event, int]:
        """Every non-zero cell of the week."""

    async def count_once(self, turn: str, events: Sequence[Event]) -> bool:
        """Add one to each event's cell, unless the turn (key) was counted already within
        ``TURN_KEPT_S``: all or nothing. True when counted."""


class MemoryStats:
    """In this process's memory (local quick start, tests): lost on restart."""

    def __init__(self, retention_s: int = DEFAULT_RETENTION_S, clock: Callable[[], float] = time.time) -> None:
        self._retention_s = retention_s
        self._clock = clock
        self._weeks: dict[str, Counter[Event]] = {}
        self._turns = _ExpiringDict(clock=clock)

    def _expired(self, week: str) -> bool:
        return self._clock() >= week_end(week).timestamp() + self._retention_s

    async def count(self, event: Event) -> None:
        if not self._expired(event.week):
            self._weeks.setdefault(event.week, Counter())[event] += 1

    async def count_once(self, turn: str, events: Sequence[Event]) -> bool:
        if not self._turns.set(mark(turn), "1", TURN_KEPT_S, only_if_absent=True):
            return False
        for event in events:
            await self.count(event)
        return True

    async def week(self, week: str) -> dict[Event, int]:
        if self._expired(week):
            self._weeks.pop(week, None)
        return dict(self._weeks.get(week, {}))


# KEYS[1]: the turn's marker; KEYS[2..]: each event's week; ARGV[1]: the marker's seconds, then per
# event its field and when its week's hash expires. Nothing is counted if the marker was there.
_COUNT_ONCE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
for i = 2, #KEYS do
  redis.call('HINCRBY', KEYS[i], ARGV[2 * i - 2], 1)
  redis.call('EXPIREAT', KEYS[i], ARGV[2 * i - 1])
end
return 1
"""


class RedisStats:
    """One hash per week under ``<prefix>stats:<week>``, shared by every bot and console process."""

    def __init__(self, client: RedisClient, prefix: str, retention_s: int = DEFAULT_RETENTION_S) -> None:
        self._redis, self._prefix = client, prefix
        self._retention_s = retention_s
        self._count_once = client.register_script(_COUNT_ONCE)

    def key(self, week: str) -> str:
        return f"{self._prefix}stats:{week}"

    def turn_key(self, turn: str) -> str:
        return f"{self._prefix}stats:turn:{mark(turn)}"

    async def count_once(self, turn: str, events: Sequence[Event]) -> bool:
        keys = [self.turn_key(turn)]
        args: list[Union[str, int]] = [TURN_KEPT_S]
        for event in events:
            keys.append(self.key(event.week))
            args += [event.field, int(week_end(event.week).timestamp()) + self._retention_s]
        return bool(await self._count_once(keys=keys, args=args))

    async def count(self, event: Event) -> None:
        key = self.key(event.week)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, event.field, 1)
            # Kept for the retention period after the week ends; a week already older is gone at once.
            pipe.expireat(key, int(week_end(event.week).timestamp()) + self._retention_s)
            await pipe.execute()

    async def week(self, week: str) -> dict[Event, int]:
        raw = await self._redis.hgetall(self.key(week))
        return {parse(week, as_text(field)): int(value) for field, value in raw.items() if int(value) > 0}

    async def forget(self, week: str) -> None:
        """Drop a week (the simulation starts its week afresh)."""
        await self._redis.delete(self.key(week))
