"""Statistics: counted without who, kept for a limited time, exported with no small cell recoverable.

Redis tests use the real server (127.0.0.1:6379, no mocks), a unique key prefix each, and delete
their keys afterwards. The suppression tests enumerate every table a reader could believe from
what is published, and check that no suppressed cell has only one possible value.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import itertools
import json
import logging
import os
import random
import re
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from typing import Iterator, Optional

import pytest
import redis
import redis.asyncio as aioredis

from bot import PROJECT_ROOT
from bot.conversation import dialogue
from bot.conversation.needs import TRIGGERS
from bot.datafiles.yamlfile import ConfigError, load_mapping
from bot.handoff.outcomes import Outcomes
from bot.handoff.queue import Risk, State, Ticket
from bot.stats import StatsRecorder, recorder
from bot.stats.categories import Categories
from bot.stats.counters import ContactEvent, HandoffEvent, MemoryStats, RedisStats, week_end, week_of
from bot.stats.export import COLUMNS, FIGURES, Slice, rows, to_csv, to_json, weeks_between
from bot.stats.suppress import Group, Table, safe, suppress
from bot.storage.retention import Retention
from tests.conftest import redis_keys_removed

REDIS_URL = "redis://127.0.0.1:6379/0"
MONDAY = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)  # ISO week 2026-W48
WHEN = MONDAY.timestamp()
WEEK = "2026-W48"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A unique key prefix; every key under it is deleted after the test."""
    unique = f"test-stats:{uuid.uuid4().hex}:"
    yield unique
    redis_keys_removed(unique)


def ticket(helpline: str = "KE", channel: str = "whatsapp", reason: str = "self_harm", created: float = WHEN) -> Ticket:
    return Ticket(
        "t-secret-id",
        helpline,
        "conv-secret-hash",
        channel,
        helpline,
        "sw",
        TRIGGERS.get(reason, Risk.ASKED),
        reason,
        intake={"age": "13", "about": "my stepfather"},
        last_messages=("my name is Amani",),
        created_at=created,
        updated_at=created,
    )


def claimed(t: Ticket, after_s: float) -> Ticket:
    return replace(t, state=State.CLAIMED, counsellor="counsellor-alice", updated_at=t.created_at + after_s)


# -- categories ---------------------------------------------------------------------------------


def test_every_need_the_bot_answers_has_one_category():
    categories = Categories.load()
    intents = load_mapping(PROJECT_ROOT / "domain.yml").data["intents"]
    menus = {need for _, need in (*dialogue.MAIN_MENU, *dialogue.OFFER_PERSON_MENU)} | set(dialogue.COMMANDS.values())
    made_up = {"empty_message", "out_of_scope", "menu_choice", "fallback", "other"}  # by the dialogue or the recorder
    assert set(intents) | menus | made_up <= categories.needs
    assert categories.of("cyberbullying").code == "cyberbullying" and categories.of("cyberbullying").chi == "violence"
    assert categories.of("online_sexual_abuse").chi == "violence"
    assert categories.of("self_harm").chi == "mental health"
    assert categories.of("greet").code == categories.of("out_of_scope").code == "not_a_counselling_contact"
    assert categories.of("never_heard_of") == categories.of("other")
    assert {s.read for s in categories.sources} == {dt.date(2026, 11, 29)}
    assert any(s.url.startswith("https://childhelplineinternational.org/") for s in categories.sources)


SOURCES = "sources:\n- url: https://childhelplineinternational.org/voices-2023-data/\n  read: 2026-11-29\n"
OWN = "- {code: not_counselling, label: Not counselling, needs: [other, menu_choice]}\n"


@pytest.mark.parametrize(
    "body, line, field, problem",
    [  # SOURCES takes lines 1-3, "categories:" line 4
        ("- {code: a, label: A, needs: [greet], colour: red}\n", 5, "categories[0].colour", "is not a field here"),
        (
            "- {code: a, label: A, needs: [greet]}\n- {code: b, label: B, needs: [greet]}\n",
            6,
            "categories[1].needs",
            "'greet' is already listed on line 5",
        ),
        (
            "- {code: a, label: A, needs: [greet]}\n- {code: a, label: B, needs: [thanks_bye]}\n",
            6,
            "categories[1].code",
            "'a' is already used on line 5",
        ),
        ("- {code: Bad-Code, label: A, needs: [greet]}\n", 5, "categories[0].code", "must be snake_case"),
        ("- {code: a, label: '', needs: [greet]}\n", 5, "categories[0].label", "non-empty"),
        ("- {code: a, label: A, needs: []}\n", 5, "categories[0].needs", "non-empty list"),
    ],
)
def test_a_broken_categories_file_names_file_line_and_field(tmp_path, body, line, field, problem):
    path = tmp_path / "stats_categories.yml"
    path.write_text(SOURCES + "categories:\n" + body + OWN, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Categories.load(path)
    assert (caught.value.path, caught.value.line, caught.value.field) == (str(path), line, field)
    assert problem in caught.value.problem


def test_the_needs_the_recorder_makes_up_must_be_listed(tmp_path):
    path = tmp_path / "stats_categories.yml"
    path.write_text(SOURCES + "categories:\n- {code: a, label: A, needs: [greet, other]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must list the need 'menu_choice'"):
        Categories.load(path)


# -- counting -----------------------------------------------------------------------------------


async def test_counting_in_memory():
    stats = recorder(MemoryStats())
    await stats.record_need("ke", "whatsapp", "sw", "cyberbullying", when=WHEN)
    await stats.record_need("KE", "whatsapp", "sw", "cyberbullying", when=MONDAY + dt.timedelta(days=6))
    await stats.record_need(None, None, "pt-BR", "choice:2", when=WHEN)  # dimensions the bot does not know
    await stats.record_need("Kenya", "whatsapp:+254700000000", "sw", "made_up_need", Risk.HARM, when=WHEN)
    await stats.record_need("IT", "sms", "it", "numbers_first", when=WHEN)  # a numbers-first language counts as itself
    cells = await stats.counter.week(WEEK)
    assert cells == {
        ContactEvent(WEEK, "KE", "whatsapp", "sw", "cyberbullying", "none", "bot_answered"): 2,
        ContactEvent(WEEK, "IT", "sms", "it", "numbers_first", "none", "bot_answered"): 1,
        ContactEvent(WEEK, "unknown", "rest", "other", "menu_choice", "none", "bot_answered"): 1,
        ContactEvent(WEEK, "unknown", "other", "sw", "other", "harm", "bot_answered"): 1,
    }
    assert await stats.counter.week("2026-W49") == {}


async def test_ticket_figures_count_in_the_week_the_ticket_was_opened():
    stats = recorder(MemoryStats())
    sunday_night = (MONDAY + dt.timedelta(days=6, hours=14, minutes=59)).timestamp()  # claimed next week
    waits = {
        30: "claimed_under_1m",
        200: "claimed_1_to_5m",
        600: "claimed_5_to_15m",
        1200: "claimed_15_to_60m",
        4000: "claimed_over_60m",
    }
    for wait in waits:
        t = ticket(created=sunday_night)
        await stats.record_ticket_opened(t)
        await stats.record_ticket_claimed(claimed(t, wait))  # the wait from the ticket's own times
        await stats.record_ticket_closed(
            replace(claimed(t, wait + 900), state=State.CLOSED, outcome="counselling_given")
        )
    left_waiting, expired, left_later = ticket(), ticket(), ticket()
    for t in (left_waiting, expired, left_later):
        await stats.record_ticket_opened(t)
    await stats.record_ticket_closed(replace(left_waiting, state=State.CLOSED, outcome="child_left"))
    await stats.record_ticket_closed(replace(expired, state=State.EXPIRED))
    await stats.record_ticket_claimed(claimed(left_later, 10), waited_s=10)
    await stats.record_ticket_closed(replace(claimed(left_later, 99), state=State.CLOSED, outcome="child_left"))
    await stats.record_ticket_closed(claimed(ticket(), 5))  # still open: nothing to count
    cells = await stats.counter.week(WEEK)
    figures = {e.figure: n for e, n in cells.items() if isinstance(e, HandoffEvent)}
    assert figures == {
        "opened": 8,
        "abandoned": 2,
        "claimed_under_1m": 2,
        **{name: 1 for name in list(waits.values())[1:]},
    }
    outcomes = {e.outcome: n for e, n in cells.items() if isinstance(e, ContactEvent)}
    assert outcomes == {"counselling_given": 5, "child_left": 2, "expired": 1}
    assert all(
        e.need == "self_harm" and e.risk == "imminent" and e.country == "KE"
        for e in cells
        if isinstance(e, ContactEvent)
    )
    assert await stats.counter.week("2026-W49") == {}


async def test_memory_statistics_expire_after_the_retention_period():
    now = [WHEN]
    counter = MemoryStats(retention_s=30 * 86_400, clock=lambda: now[0])
    await counter.count(ContactEvent(WEEK, "KE", "sms", "en", "greet", "none", "bot_answered"))
    now[0] = week_end(WEEK).timestamp() + 29 * 86_400
    assert len(await counter.week(WEEK)) == 1
    now[0] += 86_400
    assert await counter.week(WEEK) == {}
    await counter.count(ContactEvent(WEEK, "KE", "sms", "en", "greet", "none", "bot_answered"))  # too old to keep
    assert await counter.week(WEEK) == {}


async def test_redis_counts_one_hash_per_week_that_expires(prefix):
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        stats = recorder(RedisStats(client, prefix, Retention.load().statistics_s))
        await stats.record_need("KE", "sms", "sw", "self_harm", Risk.IMMINENT, when=WHEN)
        await stats.record_need("KE", "sms", "sw", "self_harm", Risk.IMMINENT, when=WHEN + 3600)
        await stats.record_conversation("KE", "sms", when=WHEN)
        key = f"{prefix}stats:{WEEK}"
        assert await client.hgetall(key) == {
            "c|KE|sms|sw|self_harm|imminent|bot_answered": "2",
            "h|KE|sms|conversations": "1",
        }
        expected = week_end(WEEK).timestamp() + Retention.load().statistics_s - time.time()
        assert abs(await client.ttl(key) - expected) < 60
        assert await stats.counter.week(WEEK) == {
            ContactEvent(WEEK, "KE", "sms", "sw", "self_harm", "imminent", "bot_answered"): 2,
            HandoffEvent(WEEK, "KE", "sms", "conversations"): 1,
        }
        old = RedisStats(client, prefix, retention_s=86_400)  # a week older than the retention is not kept
        await old.count(ContactEvent("2025-W01", "KE", "sms", "sw", "greet", "none", "bot_answered"))
        assert await client.exists(f"{prefix}stats:2025-W01") == 0
    finally:
        await client.close()


async def test_a_turn_counts_its_need_and_once_its_conversation(prefix):
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        stats = recorder(RedisStats(client, prefix))
        await stats.record_turn("self_harm", Risk.IMMINENT, "KE", "sw", "sms", None)  # the country is new
        await stats.record_turn("self_harm", Risk.IMMINENT, "KE", "sw", "sms", "KE")
        counted = await stats.counter.week(week_of(dt.datetime.now(dt.timezone.utc)))
    finally:
        await client.close()

    week = week_of(dt.datetime.now(dt.timezone.utc))
    assert counted == {
        ContactEvent(week, "KE", "sms", "sw", "self_harm", "imminent", "bot_answered"): 2,
        HandoffEvent(week, "KE", "sms", "conversations"): 1,
    }


async def test_nothing_that_identifies_a_child_is_stored(prefix):
    secrets = ("t-secret-id", "conv-secret-hash", "Amani", "stepfather", "counsellor-alice", "254700000000", "Kenya")
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        stats = recorder(RedisStats(client, prefix))
        t = ticket()
        await stats.record_need(
            "Kenya", "whatsapp:+254700000000", "my name is Amani", "self_harm", Risk.IMMINENT, when=WHEN
        )
        await stats.record_conversation("KE", "whatsapp", when=WHEN)
        await stats.record_ticket_opened(t)
        await stats.record_ticket_claimed(claimed(t, 42))
        await stats.record_ticket_closed(replace(claimed(t, 600), state=State.CLOSED, outcome="referred_to_police"))
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        assert keys == [f"{prefix}stats:{WEEK}"]
        stored = await client.hgetall(keys[0])
    finally:
        await client.close()
    assert len(stored) == 5  # the need, conversations, opened, claimed within a minute, the outcome
    for field, value in stored.items():
        assert re.fullmatch(r"[ch](\|[A-Za-z0-9_]+){3,6}", field), field  # codes only: no text, no ids
        assert value.isdigit() and int(value) < 1000  # a count, not a time
        assert not any(secret in field for secret in secrets)


class BrokenStats:
    def __init__(self, hang: bool) -> None:
        self.hang = hang

    async def count(self, event) -> None:
        if self.hang:
            await asyncio.sleep(10)
        raise redis.ConnectionError("Error 111 connecting to conv-secret-hash")

    async def week(self, week):  # pragma: no cover - never read
        return {}


@pytest.mark.parametrize("hang", [False, True])
async def test_a_failing_statistics_store_never_reaches_the_conversation(caplog, hang):
    with caplog.at_level(logging.ERROR, logger="bot.stats.record"):
        stats = StatsRecorder(BrokenStats(hang), Categories.load(), ["sw"], Outcomes.load().codes, timeout_s=0.2)
        started = time.monotonic()
        await stats.record_need("KE", "sms", "sw", "self_harm", Risk.IMMINENT)
        await stats.record_ticket_closed(replace(ticket(), state=State.EXPIRED))
        assert time.monotonic() - started < 1
    assert [r.getMessage() for r in caplog.records] == [
        f"statistics not counted ({'TimeoutError' if hang else 'ConnectionError'})"
    ] * 2
    assert "secret" not in caplog.text


async def test_real_redis_unreachable_is_only_logged(caplog):
    with caplog.at_level(logging.ERROR, logger="bot.stats.record"):
        client = aioredis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
        try:
            await recorder(RedisStats(client, "test-stats-unreachable:")).record_need("KE", "sms", "sw", "greet")
        finally:
            await client.close()
    assert "statistics not counted" in caplog.text


# -- suppression --------------------------------------------------------------------------------


def one_group(values: list[int]) -> Table:
    cells = {f"c{i}": v for i, v in enumerate(values)}
    return Table(cells, [Group("total", tuple(cells))])


@pytest.mark.parametrize(
    "values, hidden",
    [
        ([2, 7, 9], {"c0", "c1"}),  # one small cell, and the next smallest so the total cannot give it back
        ([2, 3, 10], {"c0", "c1"}),  # two small cells that already sum to 5
        ([1, 1, 1, 10], {"c0", "c1", "c2", "c3"}),  # ones sum to 3: the 10 goes too
        ([1, 1, 1, 1, 1], {"c0", "c1", "c2", "c3", "c4", "total"}),  # all ones: even all cells would pin them
        ([3], {"c0", "total"}),
        ([6, 9], set()),
        ([0, 4, 8], {"c1", "c2"}),  # a zero is shown and never chosen
    ],
)
def test_group_rule(values, hidden):
    assert suppress(one_group(values)) == hidden


def assignments(table: Table, hidden: set, cap: int = 12) -> Iterator[dict]:
    """Every table a reader could believe from what is published: suppressed cells >= 1, shown
    cells and published totals as published, every bound holding. Cells with no published total
    are tried up to ``cap`` (more values could only show more freedom)."""
    choices = []
    for group in table.groups:  # each group's suppressed cells together: their sum is often known
        cells = [c for c in group.cells if c in hidden]
        if group.total in hidden:
            choices.append(
                [
                    dict(zip(cells, combo, strict=True))
                    for combo in itertools.product(range(1, cap + 1), repeat=len(cells))
                ]
            )
        else:
            rest = table.total(group) - sum(table.values[c] for c in group.cells if c not in hidden)
            choices.append([dict(zip(cells, combo, strict=True)) for combo in compositions(rest, len(cells))])
    loose = [key for key in table.values if key in hidden and not any(key in g.cells for g in table.groups)]
    choices += [[{key: v} for v in range(1, cap + 1)] for key in loose]
    for parts in itertools.product(*choices):
        values = dict(table.values)
        for part in parts:
            values.update(part)
        if all(sum(values[k] for k in b.lower) <= sum(values[k] for k in b.upper) for b in table.bounds):
            yield values


def possible_values(table: Table, hidden: set) -> dict:
    """Each suppressed cell's values over every assignment a reader could believe."""
    seen: dict = {key: set() for key in table.values if key in hidden}
    for values in assignments(table, hidden):
        for key in seen:
            seen[key].add(values[key])
    return seen


def compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    if parts == 0:
        if total == 0:
            yield ()
        return
    for first in range(1, total - parts + 2):
        for rest in compositions(total - first, parts - 1):
            yield (first, *rest)


def assert_protected(table: Table, hidden: set) -> None:
    """No count from 1 to 4 shown, and every suppressed cell could have at least two values: the
    truth is one assignment, so look (through every assignment if need be) for one that differs."""
    assert not any(0 < v < 5 and key not in hidden for key, v in table.values.items())
    for key in (key for key in table.values if key in hidden):
        assert any(values[key] != table.values[key] for values in assignments(table, hidden)), (
            f"a reader can work out {key} = {table.values[key]} from {table} with {hidden} suppressed"
        )


def test_a_total_and_the_shown_cells_never_give_back_a_suppressed_cell():
    rng = random.Random(48)
    for _ in range(400):
        values = [rng.choice([0, 1, 1, 2, 3, 4, 5, 6, 7, 9, 12]) for _ in range(rng.randint(1, 6))]
        table = one_group(values)
        hidden = suppress(table)
        if "total" in hidden:
            assert all(f"c{i}" in hidden for i, v in enumerate(values) if v)
            continue
        assert_protected(table, hidden)
        assert safe([table.values[k] for k in hidden]) or not hidden


def linked(police: int = 1, counselling: int = 6, greet: int = 5, claimed_fast: int = 7) -> dict:
    """A week x country where the tickets' outcomes and the tickets opened are both published."""
    return {
        ContactEvent(WEEK, "KE", "sms", "sw", "greet", "none", "bot_answered"): greet,
        ContactEvent(WEEK, "KE", "sms", "sw", "online_sexual_abuse", "harm", "referred_to_police"): police,
        ContactEvent(WEEK, "KE", "sms", "sw", "online_sexual_abuse", "harm", "counselling_given"): counselling,
        HandoffEvent(WEEK, "KE", "sms", "opened"): claimed_fast,
        HandoffEvent(WEEK, "KE", "sms", "claimed_under_1m"): claimed_fast,
    }


def test_tickets_opened_cannot_give_back_a_suppressed_outcome():
    table = Slice(WEEK, "KE", linked()).table()
    police = ContactEvent(WEEK, "KE", "sms", "sw", "online_sexual_abuse", "harm", "referred_to_police")
    greet = ContactEvent(WEEK, "KE", "sms", "sw", "greet", "none", "bot_answered")
    group_rule_only = {
        police,
        greet,
    }  # total 12 and counselling 6 shown: police + greet = 6, police alone from 1 to 5...
    assert possible_values(table, group_rule_only)[police] == {1}  # ...but 7 tickets, 6 counselling: police is 1
    hidden = suppress(table)
    assert group_rule_only < hidden
    assert_protected(table, hidden)


def test_linked_tables_never_give_back_a_suppressed_cell():
    rng = random.Random(6)
    outcomes = ("bot_answered", "bot_answered", "counselling_given", "referred_to_police", "expired")
    for _ in range(150):
        cells: dict = {}
        for need, outcome in rng.sample(list(itertools.product(("greet", "self_harm"), outcomes)), rng.randint(1, 4)):
            cells[ContactEvent(WEEK, "KE", "sms", "sw", need, "none", outcome)] = rng.choice([1, 1, 2, 3, 5, 6, 8])
        tickets = sum(n for e, n in cells.items() if e.outcome != "bot_answered")
        expired = sum(n for e, n in cells.items() if e.outcome == "expired")
        for figure in rng.sample(FIGURES[3:8], 2):
            cells[HandoffEvent(WEEK, "KE", "sms", figure)] = rng.choice([0, 1, 2, 6])
        cells[HandoffEvent(WEEK, "KE", "sms", "abandoned")] = expired + rng.choice([0, 0, 1])
        cells[HandoffEvent(WEEK, "KE", "sms", "opened")] = tickets + rng.choice([0, 0, 1, 2])
        table = Slice(WEEK, "KE", cells).table()
        assert_protected(table, suppress(table))


# -- export -------------------------------------------------------------------------------------


@pytest.fixture
async def simulated_cells() -> dict:
    """A simulated week of 300 contacts (seed 7), counted in memory: {week: cells}."""
    from bot.stats.simulate import simulate

    stats = recorder(MemoryStats())
    await simulate(stats, MONDAY.date(), 300, seed=7, triggers=TRIGGERS)
    return {WEEK: await stats.counter.week(WEEK)}


def test_export_columns_and_tables(simulated_cells):
    data = simulated_cells
    found = rows(data, Categories.load(), Outcomes.load())
    text = to_csv(found)
    assert (
        text.splitlines()[0]
        == ",".join(COLUMNS)
        == (
            "table,week,country,channel,language,need,category,chi_reason,risk,outcome,chi_contact,figure,count,suppressed,share"
        )
    )
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert {r["table"] for r in parsed} == {"contacts_total", "contacts", "handoff"}
    for row in parsed:
        assert row["suppressed"] in ("true", "false")
        assert (row["count"] == "") == (row["suppressed"] == "true")
        assert row["count"] == "" or row["count"] == "0" or int(row["count"]) >= 5
    contacts = [r for r in parsed if r["table"] == "contacts"]
    assert {r["outcome"] for r in contacts} >= {"bot_answered", "counselling_given", "expired"}
    assert all(r["category"] and r["need"] and r["risk"] in ("none", "asked", "harm", "imminent") for r in contacts)
    assert {r["chi_reason"] for r in contacts if r["need"] == "cyberbullying"} == {"violence"}
    assert {r["chi_contact"] for r in contacts if r["outcome"] == "counselling_given"} == {"counselling contact"}
    handoff = [r for r in parsed if r["table"] == "handoff"]
    by_channel = itertools.groupby(handoff, key=lambda r: (r["country"], r["channel"]))
    assert all([r["figure"] for r in group] == list(FIGURES) for _, group in by_channel)
    shares = [r for r in handoff if r["share"]]
    assert shares and all(r["figure"] == "opened" and 0 <= float(r["share"]) <= 1 for r in shares)
    totals = {r["country"]: r for r in parsed if r["table"] == "contacts_total"}
    assert set(totals) == {r["country"] for r in contacts}
    document = json.loads(to_json(found, MONDAY.date(), MONDAY.date(), [WEEK]))
    assert document["columns"] == list(COLUMNS) and document["weeks"] == [WEEK]
    assert all(list(row) == list(COLUMNS) for row in document["rows"])
    assert all(row["count"] is None for row in document["rows"] if row["suppressed"])


def test_one_country_is_suppressed_exactly_as_in_the_export_of_all(simulated_cells):
    data = simulated_cells
    everything = rows(data, Categories.load(), Outcomes.load())
    assert rows(data, Categories.load(), Outcomes.load(), "KE") == [r for r in everything if r["country"] == "KE"]


def test_weeks_between():
    assert weeks_between(dt.date(2026, 11, 23), dt.date(2026, 11, 29)) == [WEEK]
    assert weeks_between(dt.date(2026, 11, 29), dt.date(2026, 12, 1)) == [WEEK, "2026-W49"]
    assert weeks_between(dt.date(2026, 12, 28), dt.date(2027, 1, 4)) == ["2026-W53", "2027-W01"]


# -- the command line ---------------------------------------------------------------------------


def cli(*args: str, prefix: Optional[str] = None, url: Optional[str] = REDIS_URL) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HELPLINE_REDIS_PREFIX")}
    env.update({"REDIS_URL": url} if url else {})
    env.update({"HELPLINE_REDIS_PREFIX": prefix} if prefix else {})
    return subprocess.run(
        [sys.executable, "-m", "bot.stats", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_simulates_and_exports_a_week(prefix, tmp_path):
    made = cli("simulate", "--week", "2026-11-25", "--contacts", "200", "--seed", "1", prefix=prefix)
    assert made.returncode == 0, made.stderr
    assert f"{prefix}stats:{WEEK}" in made.stdout
    first = cli("export", "--from", "2026-11-23", "--to", "2026-11-29", "--format", "csv", prefix=prefix)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == ",".join(COLUMNS)
    assert {r["country"] for r in csv.DictReader(io.StringIO(first.stdout))} >= {"KE", "IN", "BR"}
    assert cli("simulate", "--week", "2026-11-23", "--contacts", "200", "--seed", "1", prefix=prefix).returncode == 0
    again = cli("export", "--from", "2026-11-23", "--to", "2026-11-29", "--format", "csv", prefix=prefix)
    assert again.stdout == first.stdout  # the same seed makes the same week
    out = tmp_path / "ke.json"
    kenya = cli(
        "export",
        "--from",
        "2026-11-23",
        "--to",
        "2026-11-23",
        "--format",
        "json",
        "--country",
        "ke",
        "--output",
        str(out),
        prefix=prefix,
    )
    assert kenya.returncode == 0 and kenya.stdout == ""
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["from"] == "2026-11-23" and document["weeks"] == [WEEK] and "suppressed" in document["suppression"]
    assert document["rows"] and {r["country"] for r in document["rows"]} == {"KE"}


@pytest.mark.parametrize(
    "args, message",
    [
        (("export", "--from", "2026-13-01", "--to", "2026-11-29", "--format", "csv"), "'2026-13-01' is not a date"),
        (
            ("export", "--from", "2026-11-29", "--to", "2026-11-23", "--format", "csv"),
            "--from 2026-11-29 is after --to 2026-11-23",
        ),
        (("export", "--from", "2026-11-23", "--to", "2026-11-29", "--format", "xlsx"), "invalid choice: 'xlsx'"),
        (
            ("export", "--from", "2026-11-23", "--to", "2026-11-29", "--format", "csv", "--country", "Kenya"),
            "not an ISO 3166-1",
        ),
        (("export", "--from", "2026-11-23", "--format", "csv"), "--to"),
        (("simulate", "--week", "2026-11-23", "--contacts", "0"), "not a whole number >= 1"),
        (("report",), "invalid choice: 'report'"),
    ],
)
def test_cli_bad_input_exits_2_with_a_reason(args, message, prefix):
    done = cli(*args, prefix=prefix)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_cli_explains_where_statistics_live(prefix):
    done = cli("export", "--from", "2026-11-23", "--to", "2026-11-29", "--format", "csv", url=None)
    assert done.returncode == 2 and "Statistics live in Redis" in done.stderr and "Traceback" not in done.stderr
    mixed = cli("simulate", "--week", "2026-11-23", url=REDIS_URL)  # the bot's own prefix
    assert mixed.returncode == 2 and "must not mix with real statistics" in mixed.stderr
    down = cli(
        "export",
        "--from",
        "2026-11-23",
        "--to",
        "2026-11-29",
        "--format",
        "csv",
        prefix=prefix,
        url="redis://127.0.0.1:1/0",
    )
    assert (
        down.returncode == 1
        and "cannot reach the statistics in Redis" in down.stderr
        and "Traceback" not in down.stderr
    )
