"""The published statistics shaped for the console's charts (its /admin page and ``GET /api/stats``).

Built only from the rows ``bot.stats.export.rows`` publishes, after suppression, so a chart can
never show more than the export does. A chart adds published counts up (over weeks, channels,
languages...). Every figure is ``{"count": ..., "suppressed": ...}``: ``count`` is the sum of the
published counts it covers, ``suppressed`` how many suppressed cells it also covers, whose values
are in no count; when every cell it covers is suppressed, ``count`` is None. So a figure with
``suppressed`` above 0 is a lower bound, and the page says so. Shares are computed only from
rows that publish both their numerator and their denominator.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Iterable, Optional

import pycountry

from bot.stats.categories import Categories
from bot.stats.counters import week_end, week_monday
from bot.stats.export import BUCKETS, FIGURES, Row
from bot.stats.record import CLAIM_BUCKETS, CONVERSATIONS, OPENED
from bot.stats.suppress import RULE, THRESHOLD

UNKNOWN = "unknown"
BUCKET_LABELS = dict(
    zip(BUCKETS, ("under 1 min", "1 to 5 min", "5 to 15 min", "15 to 60 min", "over 60 min"), strict=True)
)
assert len(BUCKET_LABELS) == len(CLAIM_BUCKETS)  # a new bucket needs a label here
SUPPRESSED_NOTE = (
    f"Counts from 1 to {THRESHOLD - 1} are not shown, nor a few larger ones that would give a small one "
    "back; a figure that covers such counts is the sum of the ones shown."
)
Figure = dict[str, Any]


class _Sum:
    """Published counts added up, and how many suppressed cells were left out."""

    def __init__(self) -> None:
        self.count, self.shown, self.suppressed = 0, 0, 0

    def add(self, row: Row) -> None:
        if row["suppressed"]:
            self.suppressed += 1
        else:
            self.count += row["count"]
            self.shown += 1

    def figure(self) -> Figure:
        hidden_only = self.suppressed and not self.shown
        return {"count": None if hidden_only else self.count, "suppressed": self.suppressed}


def country_name(code: str) -> str:
    if code == UNKNOWN:
        return "Country not known"
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


def charts(
    found: Iterable[Row], weeks: list[str], categories: Categories, now: Optional[dt.datetime] = None
) -> dict[str, Any]:
    """The three charts' figures from published rows (one helpline's, or every helpline's)."""
    found = list(found)
    now = now or dt.datetime.now(dt.timezone.utc)
    countries = sorted({row["country"] for row in found}, key=lambda c: (c == UNKNOWN, c))
    return {
        "weeks": [
            {"week": week, "monday": week_monday(week).isoformat(), "ended": week_end(week) <= now} for week in weeks
        ],
        "countries": [{"code": code, "name": country_name(code)} for code in countries],
        "suppression": {"rule": RULE, "note": SUPPRESSED_NOTE},
        "contacts_per_week": _contacts_per_week(found, weeks, countries),
        "needs_by_country": _needs_by_country(found, countries, categories),
        "handoff": _handoff(found),
    }


def _contacts_per_week(found: list[Row], weeks: list[str], countries: list[str]) -> list[dict[str, Any]]:
    """Each week's contacts (the ``contacts_total`` rows), and each country's."""
    total: dict[str, _Sum] = defaultdict(_Sum)
    by_country: dict[tuple[str, str], _Sum] = defaultdict(_Sum)
    for row in found:
        if row["table"] == "contacts_total":
            total[row["week"]].add(row)
            by_country[row["week"], row["country"]].add(row)
    return [
        {
            "week": week,
            **total[week].figure(),
            "countries": [
                {"country": code, **by_country[week, code].figure()} for code in countries if (week, code) in by_country
            ],
        }
        for week in weeks
    ]


def _needs_by_country(found: list[Row], countries: list[str], categories: Categories) -> list[dict[str, Any]]:
    """Each country's contacts by published category, over every week, channel, language, risk and outcome."""
    sums: dict[tuple[str, str], _Sum] = defaultdict(_Sum)
    for row in found:
        if row["table"] == "contacts":
            sums[row["country"], row["category"]].add(row)
    answer = []
    for code in countries:
        found_here = [category for category in categories.all if (code, category.code) in sums]
        if not found_here:
            continue
        bars = [{"category": c.code, "label": c.label, **sums[code, c.code].figure()} for c in found_here]
        bars.sort(key=lambda bar: -(bar["count"] or 0))
        answer.append({"country": code, "name": country_name(code), "categories": bars})
    return answer


def _handoff(found: list[Row]) -> dict[str, Any]:
    """Tickets over every week, helpline and channel: each figure, the claim-time buckets, the share handed off."""
    sums: dict[str, _Sum] = defaultdict(_Sum)
    handoff = [row for row in found if row["table"] == "handoff"]
    for row in handoff:
        sums[row["figure"]].add(row)
    conversations = {
        (row["week"], row["country"], row["channel"]): row for row in handoff if row["figure"] == CONVERSATIONS
    }
    opened = shared = 0  # only where the export publishes the share (both counts shown)
    for row in handoff:
        if row["figure"] == OPENED and row["share"] is not None:
            opened += row["count"]
            shared += conversations[row["week"], row["country"], row["channel"]]["count"]
    with_tickets = [row for row in handoff if row["figure"] == OPENED]
    return {
        "figures": {figure: sums[figure].figure() for figure in FIGURES},
        "claim_times": [{"figure": name, "label": BUCKET_LABELS[name], **sums[name].figure()} for name in BUCKETS],
        "share_handed_off": {
            "share": round(opened / shared, 3) if shared else None,
            "opened": opened,
            "conversations": shared,
            "rows": sum(1 for row in with_tickets if row["share"] is not None),
            "of_rows": len(with_tickets),
        },
    }
