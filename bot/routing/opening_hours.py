"""Opening hours of a contact method, and whether it is open at a given moment.

Hours are written in the helpline's own time zone, as the helpline publishes them::

    hours: 24/7
    hours: {mon-fri: "08:00-20:00", sat: "10:00-14:00"}
    hours: {daily: ["07:00-12:00", "14:00-22:00"]}
    hours: {fri-sat: "20:00-02:00"}      # past midnight: Friday 20:00 to Saturday 02:00

A range belongs to the day it starts on. Times are local wall-clock times, so a line that opens
at 08:00 opens at 08:00 on both sides of a daylight-saving change.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Optional
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "24/7"
_RANGE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class HoursError(ValueError):
    """Hours that cannot be understood; the message says what is wrong."""


@dataclass(frozen=True)
class Interval:
    start: dt.time
    minutes: int  # length; may run past midnight


@dataclass(frozen=True)
class OpenState:
    open: bool
    always: bool  # 24/7
    opens_at: Optional[dt.datetime] = None  # next opening, in the helpline's time zone, when closed
    closes_at: Optional[dt.datetime] = None  # when open and not 24/7


@dataclass(frozen=True)
class Hours:
    """Weekly opening hours; ``week[0]`` is Monday's list of intervals."""

    always: bool
    week: tuple[tuple[Interval, ...], ...] = ((),) * 7

    @classmethod
    def parse(cls, value: object) -> "Hours":
        """Read the YAML value; raise HoursError naming the part that is wrong."""
        if value == ALWAYS:
            return cls(always=True)
        if not isinstance(value, dict) or not value:
            raise HoursError('must be "24/7" or a mapping such as {mon-fri: "09:00-17:00"}')
        week: list[list[Interval]] = [[] for _ in DAYS]
        for key, ranges in value.items():
            days = _days(key)
            for text in ranges if isinstance(ranges, list) else [ranges]:
                interval = _interval(key, text)
                for day in days:
                    week[day].append(interval)
        return cls(always=False, week=tuple(tuple(sorted(day, key=lambda i: i.start)) for day in week))

    def state(self, zone: ZoneInfo, now: dt.datetime) -> OpenState:
        """Open or closed at ``now`` (an aware datetime), and the next opening or closing."""
        if self.always:
            return OpenState(open=True, always=True)
        local = now.astimezone(zone)
        # Yesterday's late ranges may still be running; look a week ahead for the next opening.
        for offset in range(-1, 8):
            day = local.date() + dt.timedelta(days=offset)
            for interval in self.week[day.weekday()]:
                start = dt.datetime.combine(day, interval.start, tzinfo=zone)
                end = start + dt.timedelta(minutes=interval.minutes)
                if start <= local < end:
                    return OpenState(open=True, always=False, closes_at=end)
                if start > local:
                    return OpenState(open=False, always=False, opens_at=start)
        return OpenState(open=False, always=False)


def _days(key: object) -> list[int]:
    if key == "daily":
        return list(range(7))
    if not isinstance(key, str):
        raise HoursError(f"day {key!r} must be mon..sun, a range such as mon-fri, or daily")
    first, _, last = key.partition("-")
    if first not in DAYS or (last and last not in DAYS):
        raise HoursError(f"day {key!r} must be mon..sun, a range such as mon-fri, or daily")
    start, end = DAYS.index(first), DAYS.index(last or first)
    return [(start + i) % 7 for i in range((end - start) % 7 + 1)]


def _interval(key: str, text: object) -> Interval:
    match = _RANGE.match(text) if isinstance(text, str) else None
    if not match:
        raise HoursError(f'{key}: {text!r} must be a quoted range such as "09:00-17:00"')
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if (h1 == 24 and m1) or (h2 == 24 and m2) or h1 == 24:
        raise HoursError(f"{key}: {text!r} is not a time of day")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    minutes = end - start if end > start else end + 24 * 60 - start
    if end == start:
        raise HoursError(f'{key}: {text!r} opens and closes at the same time (write 24/7 or "00:00-24:00")')
    return Interval(dt.time(h1, m1), minutes)
