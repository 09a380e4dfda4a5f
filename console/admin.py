"""The statistics admin page (``/admin``) and its API, served by the console next to the counsellors' API.

``GET /api/stats?from=YYYY-MM-DD&to=YYYY-MM-DD[&country=KE]`` answers the published statistics of
the whole ISO weeks from ``from`` to ``to`` (at most ``MAX_WEEKS``), shaped for the page's three
charts by bot.stats.charts. The figures are those of ``python -m bot.stats export``: the same
functions read and suppress them, so the page shows nothing a published export would not.

Who reads what (bot.handoff.counsellors roles): a helpline ``admin`` only their own helpline's country
(asking for another answers 403); a ``global_admin`` every country, or one with ``country``; a
plain counsellor nothing (403); no session 401. ``GET /api/me`` tells a page who is logged in
(and the session's CSRF token, which only a same-origin page can read), so a session started
on one page carries to the other.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Awaitable, Callable, Mapping, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.counsellors import ALL_HELPLINES, Session
from bot.handoff.outcomes import Outcomes
from bot.language.detection import LanguageRegistry
from bot.language.texts import Texts
from bot.routing.countries import is_country_code
from bot.stats import export
from bot.stats.categories import Categories
from bot.stats.charts import UNKNOWN, charts
from bot.stats.counters import Event, StatsCounter

STATIC = Path(__file__).parent / "static"
MAX_WEEKS = 53  # a year and a bit: enough to compare a week with the same week last year
_CACHED_SLICES = 2048  # weeks x countries whose suppressed rows are remembered (the audit is slow)
SessionOf = Callable[[Request, bool], Awaitable[Optional[Session]]]


class _Rows:
    """``export.rows``, one week x country at a time (the export protects each on its own, so this is
    the same), remembered by its exact cells: the suppression audit can take a good part of a
    second per week and country, and an ended week rarely changes."""

    def __init__(self, categories: Categories, outcomes: Outcomes) -> None:
        self._categories, self._outcomes = categories, outcomes
        self._kept: OrderedDict[tuple[str, str, str], list[export.Row]] = OrderedDict()

    def __call__(self, data: dict[str, dict[Event, int]], country: Optional[str]) -> list[export.Row]:
        return [row for week, code, cells in export.slices(data, country) for row in self._slice(week, code, cells)]

    def _slice(self, week: str, country: str, cells: dict[Event, int]) -> list[export.Row]:
        digest = hashlib.sha256(repr(sorted((e.field, n) for e, n in cells.items())).encode()).hexdigest()
        key = (week, country, digest)
        if key not in self._kept:
            self._kept[key] = export.rows({week: cells}, self._categories, self._outcomes, country)
            while len(self._kept) > _CACHED_SLICES:
                self._kept.popitem(last=False)
        self._kept.move_to_end(key)
        return self._kept[key]


def language_reviews() -> list[dict[str, object]]:
    """The languages' tiers and review states, read from data/ now (a texts-import shows at once)."""
    registry = LanguageRegistry()
    texts = Texts.load(registry.codes, registry.default, numbers_first=registry.numbers_first)
    found = []
    for code in registry.recognised_codes:
        language = registry.language(code)
        reviewed = texts.reviewed(code)
        found.append(
            {
                "code": code,
                "name": language.name,
                "tier": "full" if registry.full(code) else "numbers-first",
                "texts": reviewed.texts,
                "reviewed": reviewed.reviewed,
                "reviewers": list(reviewed.by),
                "state": reviewed.describe(),
            }
        )
    return found


def _error(message: str, status: int) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def admin_pages(session_of: SessionOf, counter: StatsCounter, headers: Mapping[str, str]) -> Blueprint:
    """/admin, /admin.js, /api/me, /api/stats and /api/languages; ``headers`` are the console's
    security headers."""
    pages = Blueprint("admin_pages")
    categories = Categories.load()
    rows = _Rows(categories, Outcomes.load())
    working = asyncio.Lock()  # one computation at a time: the cache fills once, the loop stays free

    @pages.get("/admin")
    async def page(_: Request) -> HTTPResponse:
        return await response.file(STATIC / "admin.html", headers=dict(headers))

    @pages.get("/admin.js")
    async def script(_: Request) -> HTTPResponse:
        return await response.file(STATIC / "admin.js", headers=dict(headers))

    @pages.get("/api/me")
    async def me(request: Request) -> HTTPResponse:
        session = await session_of(request, False)
        if session is None:
            return _error("log in first", 401)
        scope = session.statistics_scope
        return response.json(
            {
                "username": session.username,
                "helpline": session.helpline,
                "role": session.role,
                "statistics": "all" if scope == ALL_HELPLINES else scope,
                "csrf": session.csrf,
            },
            headers={"Cache-Control": "no-store"},
        )

    @pages.get("/api/languages")
    async def languages(request: Request) -> HTTPResponse:
        """Each language the bot answers in, its tier and how much of its texts native speakers
        have reviewed: what a helpline checks before it trusts the bot with its children."""
        session = await session_of(request, False)
        if session is None:
            return _error("log in first", 401)
        if session.statistics_scope is None:
            return _error("only a helpline's admin reads this page", 403)
        found = await asyncio.get_running_loop().run_in_executor(None, language_reviews)
        return response.json({"languages": found}, headers={"Cache-Control": "no-store"})

    @pages.get("/api/stats")
    async def statistics(request: Request) -> HTTPResponse:
        session = await session_of(request, False)
        if session is None:
            return _error("log in first", 401)
        scope = session.statistics_scope
        if scope is None:
            return _error("only a helpline's admin reads its statistics", 403)
        try:
            start, end = export.parse_day(request.args.get("from", "")), export.parse_day(request.args.get("to", ""))
        except ValueError as error:
            return _error(f"from and to must be dates such as 2026-11-23 ({error})", 400)
        if start > end:
            return _error(f"from ({start}) is after to ({end})", 400)
        weeks = export.weeks_between(start, end)
        if len(weeks) > MAX_WEEKS:
            return _error(f"at most {MAX_WEEKS} weeks at a time (asked for {len(weeks)})", 400)
        asked = (request.args.get("country") or "").strip()
        country = scope if scope != ALL_HELPLINES else None
        if asked:
            if asked != UNKNOWN and not is_country_code(asked):
                return _error(f"{asked!r} is not a country code such as KE", 400)
            asked = asked if asked == UNKNOWN else asked.upper()
            if country is not None and asked != country:
                return _error(f"your account reads the statistics of {country} only", 403)
            country = asked
        data = await export.read(counter, weeks)
        async with working:  # the suppression audit is CPU work: off the event loop
            found = await asyncio.get_running_loop().run_in_executor(None, rows, data, country)
        answer = {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "helpline": country or "all",
            **charts(found, weeks, categories),
        }
        return response.json(answer, headers={"Cache-Control": "no-store"})

    return pages
