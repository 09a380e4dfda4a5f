"""The statistics admin page: who reads which helpline's figures, that they are the published export's,
and that a real Chromium draws them (with a screenshot to look at, and axe-core finding nothing serious).

The console runs as its own process on the real Redis, under this module's own key prefix (removed at
the end). The statistics are made-up weeks counted through the real recorder (bot.stats.simulate) over
several countries, plus a week where Kenya has only 3 contacts, so that a whole week is suppressed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
import redis.asyncio as aioredis

from bot import PROJECT_ROOT
from bot.conversation.needs import TRIGGERS
from bot.handoff.counsellors import ADMIN, GLOBAL_ADMIN, Counsellors
from bot.stats import recorder
from bot.stats.counters import RedisStats
from bot.stats.export import BUCKETS, weeks_between
from bot.stats.simulate import simulate
from bot.storage.retention import Retention
from scripts.local_bot import running_console
from tests.conftest import redis_keys_removed
from tests.test_accessibility import assert_no_serious_findings, unnamed_controls

REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(__file__).parent / "artifacts"
TODAY = dt.date.today()
THIS_MONDAY = TODAY - dt.timedelta(days=TODAY.weekday())
FULL_WEEKS = [THIS_MONDAY - dt.timedelta(weeks=k) for k in (3, 2, 1)]  # simulated, 1200 conversations each
SMALL_WEEK = THIS_MONDAY - dt.timedelta(weeks=5)  # Kenya's 3 contacts only: the week is not shown
# The page's default range: this week and the 7 before it.
DEFAULT_FROM, DEFAULT_TO = THIS_MONDAY - dt.timedelta(weeks=7), TODAY


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    prefix = f"test-admin-{secrets.token_hex(4)}:"
    names = {
        role: f"{role.replace('_', '-')}-{secrets.token_hex(3)}" for role in ("admin", "global_admin", "counsellor")
    }

    async def prepare() -> None:
        client = aioredis.from_url(REDIS_URL)
        try:
            counter = recorder(RedisStats(client, prefix, Retention.load().statistics_s))
            for seed, monday in enumerate(FULL_WEEKS, start=1):
                await simulate(counter, monday, 1200, seed, TRIGGERS)
            small = dt.datetime(SMALL_WEEK.year, SMALL_WEEK.month, SMALL_WEEK.day, 10, tzinfo=dt.timezone.utc)
            for need in ("cyberbullying", "cyberbullying", "greet"):
                await counter.record_need("KE", "sms", "en", need, when=small)
            accounts = Counsellors(client, prefix + "console:")
            await accounts.add(names["admin"], "KE", PASSWORD, ADMIN)
            await accounts.add(names["global_admin"], None, PASSWORD, GLOBAL_ADMIN)
            await accounts.add(names["counsellor"], "KE", PASSWORD)
        finally:
            await client.close()

    env = {
        "REDIS_URL": REDIS_URL,
        "HELPLINE_REDIS_PREFIX": prefix,
        "HELPLINE_HANDOFF_FILE": str(Path(__file__).parent / "handoff_desks.yml"),
    }
    try:
        # A module-wide sync fixture (its tests are sync: HTTP, Playwright's sync API): a short loop of its
        # own for this one-off setup, rather than a module-scoped pytest-asyncio loop kept open beside them.
        asyncio.run(prepare())
        with running_console(tmp_path_factory.mktemp("admin-console"), env) as base:
            yield {"base": base, "env": env, "names": names}
    finally:
        redis_keys_removed(prefix)


def client(setting: dict[str, Any], role: Optional[str]) -> Any:
    from tests.console_client import Counsellor

    person = Counsellor(setting["base"], setting["names"][role] if role else "nobody")
    if role:
        assert person.login(PASSWORD) == 200
    return person


def stats_path(start: dt.date = DEFAULT_FROM, end: dt.date = DEFAULT_TO, country: str = "") -> str:
    return f"/api/stats?from={start}&to={end}" + (f"&country={country}" if country else "")


def exported(
    setting: dict[str, Any], start: dt.date, end: dt.date, country: Optional[str] = None
) -> list[dict[str, Any]]:
    """The rows `python -m bot.stats export --format json` publishes for the same weeks (and country)."""
    command = [sys.executable, "-m", "bot.stats", "export", "--from", str(start), "--to", str(end), "--format", "json"]
    done = subprocess.run(
        command + (["--country", country] if country else []),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **setting["env"]},
        check=True,
    )
    return json.loads(done.stdout)["rows"]


def shown_sum(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What a chart's figure must be for these export rows: the shown counts added up, the suppressed ones counted."""
    hidden = sum(1 for row in rows if row["suppressed"])
    shown = [row["count"] for row in rows if not row["suppressed"]]
    return {"count": sum(shown) if shown or not hidden else None, "suppressed": hidden}


def test_a_helpline_admin_reads_only_their_own_helplines_statistics(setting):
    admin = client(setting, "admin")
    status, me = admin.get("/api/me")
    assert status == 200 and me["role"] == ADMIN and me["statistics"] == "KE" and me["csrf"] == admin.csrf
    status, data = admin.get(stats_path())
    assert status == 200 and data["helpline"] == "KE"
    assert [c["code"] for c in data["countries"]] == ["KE"]
    assert [n["country"] for n in data["needs_by_country"]] == ["KE"]
    assert {c["country"] for week in data["contacts_per_week"] for c in week["countries"]} == {"KE"}
    assert len(data["weeks"]) == 8 and data["weeks"][-1]["ended"] is False  # the default range of the page
    assert admin.get(stats_path(country="ke"))[1] == data
    assert admin.get(stats_path(country="IN")) == (403, {"error": "your account reads the statistics of KE only"})


def test_a_global_admin_reads_every_helpline_or_one(setting):
    chi = client(setting, "global_admin")
    assert chi.get("/api/me")[1]["statistics"] == "all"
    status, data = chi.get(stats_path())
    codes = [c["code"] for c in data["countries"]]
    assert status == 200 and data["helpline"] == "all" and {"KE", "IN", "BR", "GB"} <= set(codes) and len(codes) >= 5
    assert {n["country"] for n in data["needs_by_country"]} >= {"KE", "IN", "BR"}
    status, india = chi.get(stats_path(country="IN"))
    assert status == 200 and [c["code"] for c in india["countries"]] == ["IN"] and india["helpline"] == "IN"


def test_counsellors_strangers_and_bad_dates_are_refused(setting):
    assert client(setting, "counsellor").get(stats_path()) == (
        403,
        {"error": "only a helpline's admin reads its statistics"},
    )
    assert client(setting, "counsellor").get("/api/me")[1]["statistics"] is None
    assert client(setting, None).get(stats_path())[0] == 401
    assert client(setting, None).get("/api/me")[0] == 401
    admin = client(setting, "admin")
    for path in (
        "/api/stats",
        "/api/stats?from=2026-11-02",
        "/api/stats?from=2026-02-30&to=2026-03-10",
        "/api/stats?from=yesterday&to=today",
        stats_path(TODAY, TODAY - dt.timedelta(days=1)),
        stats_path(TODAY - dt.timedelta(weeks=53), TODAY),  # 54 ISO weeks: more than 53
        stats_path(country="Kenya"),
    ):
        status, answer = admin.get(path)
        assert status == 400 and answer["error"], path
    assert admin.get(stats_path(TODAY - dt.timedelta(weeks=52), TODAY))[0] == 200  # 53 weeks are fine


def test_an_admin_sees_every_languages_tier_and_review_state(setting):
    status, data = client(setting, "admin").get("/api/languages")
    found = {language["code"]: language for language in data["languages"]}
    assert status == 200 and len(found) == 97
    assert found["fr"]["tier"] == "full" and found["cs"]["tier"] == "numbers-first"
    assert found["fr"]["texts"] > found["cs"]["texts"] > 0  # a full language's texts, its plain versions too
    assert all(each["reviewed"] == 0 and each["state"].startswith("machine draft") for each in found.values())
    assert client(setting, "counsellor").get("/api/languages")[0] == 403
    assert client(setting, None).get("/api/languages")[0] == 401


def test_the_figures_are_the_published_exports(setting):
    """Every chart figure is the export's rows added up: shown counts summed, suppressed ones only counted."""
    admin, chi = client(setting, "admin"), client(setting, "global_admin")
    for person, country in ((admin, "KE"), (chi, None)):
        data = person.get(stats_path())[1]
        rows = exported(setting, DEFAULT_FROM, DEFAULT_TO, country)
        assert {row["country"] for row in rows} == {c["code"] for c in data["countries"]}
        totals = defaultdict(list)
        for row in rows:
            if row["table"] == "contacts_total":
                totals[row["week"]].append(row)
        for week in data["contacts_per_week"]:
            assert {k: week[k] for k in ("count", "suppressed")} == shown_sum(totals[week["week"]])
            for one in week["countries"]:
                [row] = [r for r in totals[week["week"]] if r["country"] == one["country"]]
                assert (one["count"], one["suppressed"]) == ((None, 1) if row["suppressed"] else (row["count"], 0))
        for need in data["needs_by_country"]:
            for bar in need["categories"]:
                cells = [
                    r
                    for r in rows
                    if r["table"] == "contacts" and r["country"] == need["country"] and r["category"] == bar["category"]
                ]
                assert cells and {k: bar[k] for k in ("count", "suppressed")} == shown_sum(cells)
        handoff = [row for row in rows if row["table"] == "handoff"]
        for bucket, name in zip(data["handoff"]["claim_times"], BUCKETS, strict=True):
            assert bucket["figure"] == name
            assert {k: bucket[k] for k in ("count", "suppressed")} == shown_sum(
                [r for r in handoff if r["figure"] == name]
            )
        for figure, value in data["handoff"]["figures"].items():
            assert value == shown_sum([r for r in handoff if r["figure"] == figure])
        shared = [r for r in handoff if r["figure"] == "opened" and r["share"] is not None]
        conversations = {
            (r["week"], r["country"], r["channel"]): r["count"] for r in handoff if r["figure"] == "conversations"
        }
        share = data["handoff"]["share_handed_off"]
        assert share["opened"] == sum(r["count"] for r in shared)
        assert share["conversations"] == sum(conversations[r["week"], r["country"], r["channel"]] for r in shared)
        assert share["share"] == round(share["opened"] / share["conversations"], 3)


def test_suppressed_cells_carry_no_value(setting):
    data = client(setting, "admin").get(stats_path())[1]
    small = next(
        w
        for w in data["contacts_per_week"]
        if w["week"] == f"{SMALL_WEEK.isocalendar()[0]}-W{SMALL_WEEK.isocalendar()[1]:02d}"
    )
    assert small == {
        "week": small["week"],
        "count": None,
        "suppressed": 1,
        "countries": [{"country": "KE", "count": None, "suppressed": 1}],
    }

    figures = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "suppressed" in value and "count" in value:
                figures.append(value)
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(data)
    assert any(f["suppressed"] for f in figures) and any(f["count"] is None for f in figures)  # not a vacuous check
    for figure in figures:
        assert figure["count"] is None or isinstance(figure["count"], int)
        assert figure["count"] is not None or figure["suppressed"] > 0  # no count only where every cell is hidden


def csp_errors(page: Any) -> list[str]:
    found: list[str] = []
    page.on(
        "console", lambda message: found.append(message.text) if "Content Security Policy" in message.text else None
    )
    return found


def test_the_admin_page_draws_the_three_charts_in_chromium(setting, browser):
    from playwright.sync_api import expect

    data = client(setting, "admin").get(stats_path())[1]
    others = [c for c in client(setting, "global_admin").get(stats_path())[1]["countries"] if c["code"] != "KE"]
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    # The page's "today" is the one these expectations were computed on, even if the run crosses midnight.
    page.clock.set_fixed_time(dt.datetime.combine(TODAY, dt.time(12)))
    refused = csp_errors(page)
    try:
        # The KE admin logs in on the console; the header links to the statistics, the session carries over.
        page.goto(setting["base"])
        page.get_by_label("Username", exact=True).fill(setting["names"]["admin"])
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Children waiting")).to_be_visible()  # an admin works the queue too
        page.get_by_role("link", name="Your helpline's statistics").click()
        expect(page).to_have_url(setting["base"] + "/admin")
        expect(page.get_by_role("heading", name="Statistics for Kenya (KE)")).to_be_visible()
        expect(page.locator("#stats-status")).to_contain_text("Showing 8 weeks")
        assert page.get_by_label("From", exact=True).input_value() == str(DEFAULT_FROM) and page.get_by_label(
            "To", exact=True
        ).input_value() == str(DEFAULT_TO)

        # Bars: one per published figure; a suppressed one is text, never a bar.
        weeks_shown = [w for w in data["contacts_per_week"] if w["count"] is not None]
        assert page.locator("#contacts-svg rect.bar").count() == len(weeks_shown) == 7
        assert [
            int(n)
            for n in page.locator("#contacts-svg rect.bar").evaluate_all("bars => bars.map(b => b.dataset.count)")
        ] == [w["count"] for w in weeks_shown]
        expect(page.locator("#contacts-svg text.hidden-value")).to_have_count(1)
        expect(page.locator("#contacts-svg text.hidden-value")).to_have_text("not shown")
        expect(page.locator("#contacts-notes")).to_contain_text("1 week is not shown: fewer than 5 contacts")
        needs = [c for n in data["needs_by_country"] for c in n["categories"]]
        assert page.locator("#needs-figure svg").count() == 1
        assert page.locator("#needs-figure rect.bar").count() == sum(1 for c in needs if c["count"] is not None)
        assert page.locator("#needs-figure text.hidden-value").count() == sum(1 for c in needs if c["count"] is None)
        assert (
            page.locator("#handoff-svg rect.bar").count()
            == sum(1 for b in data["handoff"]["claim_times"] if b["count"] is not None)
            == 5
        )
        share = data["handoff"]["share_handed_off"]
        expect(page.locator("#handoff-share")).to_contain_text(f"{share['share'] * 100:.1f}% of conversations")
        expect(page.locator("#languages-table tbody tr")).to_have_count(97)
        expect(page.locator("#languages-table")).to_contain_text("numbers-first")
        expect(page.locator("#languages-status")).to_contain_text("97 languages; 0 with texts reviewed")

        # Titles, axis labels, and the numbers for screen readers.
        for chart, x_title, y_title in (
            ("#contacts-svg", "Week starting (Monday)", "Contacts"),
            ("#handoff-svg", "Time the child waited until a counsellor took the conversation", "Conversations"),
        ):
            svg = page.locator(chart)
            assert svg.get_attribute("role") == "img" and svg.locator("title").first.text_content()
            texts = svg.locator("text.axis-title").all_text_contents()
            assert texts == [x_title, y_title]
        expect(page.get_by_role("img", name="Contacts per week, 8 weeks")).to_be_visible()
        table = page.locator("#contacts-table")
        expect(table.locator("tbody tr")).to_have_count(8)
        expect(table).to_contain_text("not shown (small counts)")
        expect(page.locator("#needs-table")).to_contain_text("Kenya: Cyberbullying")
        expect(page.locator("#handoff-table")).to_contain_text("Claimed under 1 min")

        # Nobody else's helpline.
        text = page.locator("body").inner_text() + page.locator("body").text_content()
        for other in others:
            assert other["name"] not in text and f"({other['code']})" not in text, other
        assert page.locator("#country-box").is_hidden()
        expect(page.get_by_role("link", name="Counsellor console")).to_be_visible()  # and back

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "admin-stats.png"), full_page=True)

        # Another range: two weeks, drawn again.
        page.get_by_label("From", exact=True).fill(str(FULL_WEEKS[1]))
        page.get_by_label("To", exact=True).fill(str(FULL_WEEKS[2] + dt.timedelta(days=6)))
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#stats-status")).to_contain_text(f"Showing 2 weeks from {FULL_WEEKS[1]}")
        expect(page.locator("#contacts-svg rect.bar")).to_have_count(2)
        assert refused == []  # the page runs under the console's CSP: nothing inline, nothing from elsewhere
    finally:
        page.close()


def test_a_global_admin_goes_to_the_statistics_and_a_counsellor_is_told_they_are_for_admins(setting, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.goto(setting["base"])  # the console: a global admin has no desk, so the page sends them on
        page.get_by_label("Username", exact=True).fill(setting["names"]["global_admin"])
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Statistics for all helplines")).to_be_visible()
        assert page.locator("#needs-figure svg").count() >= 5
        page.get_by_label("Helpline", exact=True).select_option("IN")
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("heading", name="Statistics for India (IN)")).to_be_visible()
        expect(page.locator("#needs-figure svg")).to_have_count(1)
        assert page.get_by_role("link", name="Counsellor console").is_hidden()
    finally:
        page.close()
    page = browser.new_page()
    try:
        page.goto(setting["base"] + "/admin")
        page.get_by_label("Username", exact=True).fill(setting["names"]["counsellor"])
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Statistics are for admins")).to_be_focused()
        assert page.locator("#stats-view").is_hidden()
        page.goto(setting["base"])
        page.get_by_label("Username", exact=True).fill(setting["names"]["counsellor"])
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Children waiting")).to_be_visible()
        assert page.get_by_role("link", name="Your helpline's statistics").is_hidden()  # admins only
    finally:
        page.close()


def test_the_admin_page_passes_axe_core_and_works_with_the_keyboard(setting, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        page.goto(setting["base"] + "/admin")
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        assert_no_serious_findings(page, "admin login")
        assert unnamed_controls(page) == []
        page.keyboard.press("Tab")
        expect(page.get_by_label("Username", exact=True)).to_be_focused()
        page.keyboard.type(setting["names"]["admin"])
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        heading = page.get_by_role("heading", name="Statistics for Kenya (KE)")
        expect(heading).to_be_focused()  # the login form is gone: focus says where the admin now is
        expect(page.locator("#contacts-svg rect.bar")).to_have_count(7)
        assert_no_serious_findings(page, "admin statistics")
        assert unnamed_controls(page) == []
        page.keyboard.press("Tab")
        start = page.get_by_label("From", exact=True)
        expect(start).to_be_focused()
        page.keyboard.type(FULL_WEEKS[0].strftime("%m%d%Y"))  # Chromium's date field, month first (en-US)
        assert start.input_value() == str(FULL_WEEKS[0])
        show = page.get_by_role("button", name="Show")
        for _ in range(8):  # on through the date fields' parts (month, day, year) to Show
            page.keyboard.press("Tab")
            if show.evaluate("button => button === document.activeElement"):
                break
        expect(show).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#stats-status")).to_contain_text(
            f"Showing {len(weeks_between(FULL_WEEKS[0], TODAY))} weeks from {FULL_WEEKS[0]}"
        )
    finally:
        page.close()
