"""The figures a helpline can publish: weeks of counters as rows, small cells suppressed.

One set of columns (``COLUMNS``) serves three tables, named in the ``table`` column:

* ``contacts``: one row per week x country x channel x language x need x risk x outcome, with the
  need's published ``category``, Child Helpline International's reason for contact where a source
  confirms it (``chi_reason``), and for a ticket's outcome CHI's counselling split (``chi_contact``);
* ``contacts_total``: all contacts of a week x country;
* ``handoff``: per week x helpline country x channel, one row per ``figure`` in ``FIGURES``. A
  ticket's figures all count in the week it was opened. ``opened`` is the sum of the claimed-by-wait
  buckets, ``abandoned`` (expired, or the child left, before anyone claimed it) and ``other`` (still
  waiting, or closed unclaimed by a counsellor); ``claimed`` is the buckets' sum; the ``opened``
  row's ``share`` is opened / conversations.

A suppressed count is empty (null in JSON) with ``suppressed`` true; bot.stats.suppress says which
and why. Each week x country is protected on its own, so an export of one country suppresses
exactly what the export of all countries does.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional

from bot.handoff.outcomes import Outcomes
from bot.stats.categories import Categories
from bot.stats.counters import ContactEvent, Event, HandoffEvent, StatsCounter, week_of
from bot.stats.record import ABANDONED, BOT_ANSWERED, CLAIM_BUCKETS, CONVERSATIONS, EXPIRED, OPENED
from bot.stats.suppress import RULE, Bound, Group, Key, Table, suppress

COLUMNS = (
    "table",
    "week",
    "country",
    "channel",
    "language",
    "need",
    "category",
    "chi_reason",
    "risk",
    "outcome",
    "chi_contact",
    "figure",
    "count",
    "suppressed",
    "share",
)
BUCKETS = tuple(name for _, name in CLAIM_BUCKETS)
OTHER_FIGURE = "other"
PARTITION = (*BUCKETS, ABANDONED, OTHER_FIGURE)  # what each opened ticket became: they add up to `opened`
CLAIMED = "claimed"
FIGURES = (CONVERSATIONS, OPENED, CLAIMED, *PARTITION)  # the handoff rows of a channel, in this order
Row = dict[str, Any]


# Counters are kept by ISO week, named "YYYY-Www": before year 1000 a name has fewer digits, and the
# last week of 9999 ends past the last date Python has. No statistics exist outside these days anyway.
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(9998, 12, 31)


def parse_day(text: str) -> dt.date:
    """A day statistics are asked for ("2026-11-23", FIRST_DAY to LAST_DAY); ValueError saying why not."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date such as 2026-11-23") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{day} is not between {FIRST_DAY} and {LAST_DAY}")
    return day


def weeks_between(start: dt.date, end: dt.date) -> list[str]:
    """The ISO weeks from the one holding ``start`` to the one holding ``end``: counters are kept by week."""
    weeks, day = [], start - dt.timedelta(days=start.weekday())
    while day <= end:
        weeks.append(week_of(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)))
        day += dt.timedelta(days=7)
    return weeks


async def read(counter: StatsCounter, weeks: Iterable[str]) -> dict[str, dict[Event, int]]:
    return {week: await counter.week(week) for week in weeks}


def slices(
    data: dict[str, dict[Event, int]], country: Optional[str] = None
) -> Iterator[tuple[str, str, dict[Event, int]]]:
    """(week, country, its cells), week by week, country by country: the unit suppression works on."""
    for week, cells in data.items():
        by_country: dict[str, dict[Event, int]] = defaultdict(dict)
        for event, count in cells.items():
            by_country[event.country][event] = count
        for code in sorted(by_country):
            if country is None or code == country:
                yield week, code, by_country[code]


def rows(
    data: dict[str, dict[Event, int]], categories: Categories, outcomes: Outcomes, country: Optional[str] = None
) -> list[Row]:
    """Every published row, week by week, country by country."""
    return [
        row
        for week, code, cells in slices(data, country)
        for row in Slice(week, code, cells).rows(categories, outcomes)
    ]


def to_csv(found: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in found:
        writer.writerow({key: _csv_value(value) for key, value in row.items()})
    return out.getvalue()


def to_json(found: list[Row], start: dt.date, end: dt.date, weeks: list[str]) -> str:
    return (
        json.dumps(
            {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "weeks": weeks,
                "suppression": RULE,
                "columns": list(COLUMNS),
                "rows": found,
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n"
    )


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Slice:
    """One week x country: every figure in it, and what ties them (bot.stats.suppress.Table)."""

    week: str
    country: str
    cells: dict[Event, int]

    def __post_init__(self) -> None:
        self.contacts = {e: n for e, n in self.cells.items() if isinstance(e, ContactEvent)}
        self.handoff = self._handoff()
        self.channels = sorted({e.channel for e in self.handoff})

    def _handoff(self) -> dict[HandoffEvent, int]:
        """Each channel's partition and conversations. A lost increment is repaired upwards, so the
        published figures never contradict each other (the suppression audit relies on it)."""
        counted: Counter[tuple[str, str]] = Counter()
        for event, count in self.cells.items():
            if isinstance(event, HandoffEvent):
                counted[event.channel, event.figure] += count
        values: dict[HandoffEvent, int] = {}
        for channel in sorted({c for c, _ in counted} | {e.channel for e in self._tickets()}):
            closed = sum(self.contacts[e] for e in self._tickets(channel))
            expired = sum(self.contacts[e] for e in self._tickets(channel) if e.outcome == EXPIRED)
            claimed = sum(counted[channel, name] for name in BUCKETS)
            abandoned = max(counted[channel, ABANDONED], expired)
            opened = max(counted[channel, OPENED], closed, claimed + abandoned)
            figures = {name: counted[channel, name] for name in BUCKETS}
            figures.update(
                {
                    ABANDONED: abandoned,
                    OTHER_FIGURE: opened - claimed - abandoned,
                    CONVERSATIONS: counted[channel, CONVERSATIONS],
                }
            )
            values.update({self._cell(channel, name): count for name, count in figures.items()})
        return values

    def _tickets(self, channel: Optional[str] = None) -> list[ContactEvent]:
        """Contacts that are tickets' ends (not the bot's answers), on one channel or all."""
        return [e for e in self.contacts if e.outcome != BOT_ANSWERED and channel in (None, e.channel)]

    def _cell(self, channel: str, figure: str) -> HandoffEvent:
        return HandoffEvent(self.week, self.country, channel, figure)

    def _opened(self, channel: str) -> Key:
        return (OPENED, self.week, self.country, channel)

    @property
    def _total(self) -> Key:
        return ("contacts_total", self.week, self.country)

    def table(self) -> Table:
        values: dict[Key, int] = dict([*self.contacts.items(), *self.handoff.items()])
        groups = [Group(self._total, tuple(self.contacts))] if self.contacts else []
        bounds = []
        for channel in self.channels:
            partition = tuple(self._cell(channel, name) for name in PARTITION)
            groups.append(Group(self._opened(channel), partition))
            tickets = tuple(self._tickets(channel))
            bounds.append(Bound(tickets, partition))  # a ticket ends once: no more ends than tickets
            bounds.append(Bound(tuple(e for e in tickets if e.outcome == EXPIRED), (self._cell(channel, ABANDONED),)))
        return Table(values, groups, bounds)

    def rows(self, categories: Categories, outcomes: Outcomes) -> list[Row]:
        table = self.table()
        hidden = suppress(table)
        found = []
        if self.contacts:
            found.append(self._row("contacts_total", sum(self.contacts.values()), self._total in hidden))
        for event in sorted(self.contacts, key=lambda e: (e.channel, e.language, e.need, e.risk, e.outcome)):
            category = categories.of(event.need)
            outcome = outcomes.get(event.outcome)
            found.append(
                self._row(
                    "contacts",
                    self.contacts[event],
                    event in hidden,
                    channel=event.channel,
                    language=event.language,
                    need=event.need,
                    category=category.code,
                    chi_reason=category.chi,
                    risk=event.risk,
                    outcome=event.outcome,
                    chi_contact=outcome.chi if outcome else None,
                )
            )
        for channel in self.channels:
            found += self._handoff_rows(channel, hidden)
        return found

    def _handoff_rows(self, channel: str, hidden: set[Key]) -> list[Row]:
        count = {name: self.handoff[self._cell(channel, name)] for name in (*PARTITION, CONVERSATIONS)}
        shown = {name: self._cell(channel, name) not in hidden for name in (*PARTITION, CONVERSATIONS)}
        count[OPENED], shown[OPENED] = sum(count[name] for name in PARTITION), self._opened(channel) not in hidden
        count[CLAIMED] = sum(count[name] for name in BUCKETS)
        # Published only when the figures already shown give it: it must add nothing.
        shown[CLAIMED] = all(shown[name] for name in BUCKETS) or all(
            shown[name] for name in (OPENED, ABANDONED, OTHER_FIGURE)
        )
        found = []
        for figure in FIGURES:
            row = self._row("handoff", count[figure], not shown[figure], channel=channel, figure=figure)
            if figure == OPENED and shown[OPENED] and shown[CONVERSATIONS] and count[CONVERSATIONS]:
                row["share"] = round(count[OPENED] / count[CONVERSATIONS], 3)
            found.append(row)
        return found

    def _row(self, table: str, count: int, suppressed: bool, **values: Any) -> Row:
        row: Row = dict.fromkeys(COLUMNS)
        row.update(
            table=table,
            week=self.week,
            country=self.country,
            count=None if suppressed else count,
            suppressed=suppressed,
            **values,
        )
        return row
