"""Fuzzing every HTTP endpoint of the running bot and console: no answer may be a 5xx.

The bot (Rasa server with every channel, action server) and the console run as their own
processes on Redis, as in deployment (tests/conftest.py); requests go over raw sockets
(tests/raw_http.py), so they can be as malformed as an attacker's or a broken client's. Each
property draws requests for one endpoint family from tests/fuzz_requests.py and checks that the
answer is below 500 and that a refusal (4xx) says why. The partner API also gets requests that
schemathesis generates from its OpenAPI document (console/openapi.yml), positive and negative.
After the run, the statuses per endpoint and the requests that got no answer (with the reason)
are printed; together the properties send more than 10,000 requests.

    make test-fuzz      # these alone; `make test` runs them too
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis.asyncio as aioredis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.handoff.counsellors import ADMIN, COUNSELLOR, GLOBAL_ADMIN, Counsellors
from bot.handoff.partner import sign, signed_request
from bot.handoff.queue import RedisHandoffQueue, Risk, Ticket
from bot.privacy.sender_ids import SenderIds
from bot.storage.stores import RedisInbox
from scripts.fake_apis import PUBLIC_URL, TELEGRAM_SECRET, TWILIO_TOKEN
from scripts.local_bot import RunningBot, running_console
from tests import fuzz_requests as fuzz
from tests.conftest import CHANNEL_ENV
from tests.console_client import PASSWORD, Counsellor
from tests.raw_http import Answer, NoAnswer, request

pytestmark = [pytest.mark.fuzz, pytest.mark.rasa]

TALLY = fuzz.Tally()
TIMEOUT_S = 20.0  # above the web chat's long poll in the tests' bot (5 s) and a slow turn under load
GH_SECRET = CHANNEL_ENV["HELPLINE_TEST_GH_SECRET"].encode()
PREFIX = CHANNEL_ENV["HELPLINE_REDIS_PREFIX"]
# Examples per property: together over 10,000 requests, most of them refused cheaply.
EXAMPLES = {
    "telegram": 1500,
    "twilio": 1500,
    "web_post": 1400,
    "web_inbox": 900,
    "web_page": 500,
    "rest": 1100,
    "bot_other": 500,
    "console": 1800,
    "console_events": 250,
    "partner": 600,
    "partner_schema": 100,  # per operation and mode: 4 operations x 2 modes
}


def fuzz_settings(examples: int) -> Any:
    return settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)


def sent_and_checked(bases: dict[str, str], sent: fuzz.Sent) -> None:
    """Send ``sent``; the answer must be under 500 and a refusal must give its reason."""
    try:
        outcome: Answer | NoAnswer = request(
            bases[sent.server],
            sent.method,
            sent.target,
            sent.headers,
            sent.body,
            sent.content_length,
            TIMEOUT_S,
            sent.half_close,
        )
    except NoAnswer as silence:
        outcome = silence
    TALLY.record(sent, outcome)
    if isinstance(outcome, NoAnswer):
        assert sent.promises_more_than_it_sends, f"no answer ({outcome}) to {sent!r}"
        return
    assert outcome.status < 500, f"{outcome.status} {outcome.body[:300]!r} for {sent!r}"
    if outcome.status >= 400 and sent.method != "HEAD":
        assert fuzz.reason_of(outcome), f"{outcome.status} without a reason for {sent!r}"


@pytest.fixture(scope="module")
def fuzz_console_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-console")  # its console.log


@pytest.fixture(scope="module")
def fuzz_console(fuzz_console_folder: Path, handoff_file: Path) -> Iterator[str]:
    """A console process of its own on the bot's Redis keys: the fuzzing takes up its connections
    (dozens of event streams a second), which must not slow the other tests' console."""
    env = {**CHANNEL_ENV, "HELPLINE_HANDOFF_FILE": str(handoff_file)}
    with running_console(fuzz_console_folder, env) as base:
        yield base


@pytest.fixture(scope="module")
def log_marks(bot: RunningBot, fuzz_console: str, fuzz_console_folder: Path) -> dict[Path, int]:
    """Where each server's log stood before the fuzzing: what it logs from there is the fuzzing's."""
    paths = [bot.log, bot.log.parent / "actions.log", fuzz_console_folder / "console.log"]
    return {path: path.stat().st_size for path in paths}


@pytest.fixture(scope="module")
def bases(bot: RunningBot, fuzz_console: str, log_marks: dict[Path, int]) -> dict[str, str]:
    return {fuzz.BOT: bot.base_url, fuzz.CONSOLE: fuzz_console}


EXCEPTION_LINE = re.compile(r"^([a-z_]+\.)*[A-Z]\w*(: |$)")  # a traceback's last line: "ValueError: ..."
TIMESTAMP = re.compile(r"^\[?\d{4}-\d\d-\d\d[ T][\d:.,]+( [+-]\d{4})?\]?\s*(\[\d+\]\s*)?")


def logged_errors(marks: dict[Path, int]) -> Counter[str]:
    """The error lines and the exceptions of tracebacks the servers logged since ``marks``, counted:
    failures off the request (a journalled Telegram update the worker could not handle) show
    there, not in a status."""
    found: Counter[str] = Counter()
    for path, start in marks.items():
        with path.open("rb") as log:
            log.seek(start)
            text = log.read().decode("utf-8", "replace")
        for line in text.splitlines():
            if "ERROR" in line or EXCEPTION_LINE.match(line):
                found[f"{path.name}: {TIMESTAMP.sub('', line.strip())[:200]}"] += 1
    return found


@pytest.fixture(scope="module")
def web_token(bot: RunningBot) -> str:
    """A token the bot issued, whose inbox holds a message (so reads after an old cursor answer at once)."""
    answer = request(
        bot.base_url, "POST", "/webhooks/web/webhook", [("Content-Type", "application/json")], b'{"message": "hi"}'
    )
    token = answer.json()["token"]
    sender = SenderIds(CHANNEL_ENV["HELPLINE_SENDER_KEY"].encode()).of("web", token)

    async def put() -> None:
        client = aioredis.from_url(CHANNEL_ENV["REDIS_URL"], decode_responses=True)
        await RedisInbox(client, PREFIX).put(sender, "a message waiting in the inbox", [], 3600)
        await client.close()

    asyncio.run(put())
    return token


@pytest.fixture(scope="module")
def keys(fuzz_console: str) -> fuzz.ConsoleKeys:
    """The fuzz's own accounts (a counsellor of NG, an admin of KE, a global admin), logged in, and
    tickets: one of NG (the counsellor's desk), one of KE (another desk's), one of GH (the partner's)."""
    run = secrets.token_hex(3)
    names = {
        COUNSELLOR: (f"fuzz-ng-{run}", "NG"),
        ADMIN: (f"fuzz-ke-{run}", "KE"),
        GLOBAL_ADMIN: (f"fuzz-all-{run}", ""),
    }

    async def prepare() -> list[str]:
        client = aioredis.from_url(CHANNEL_ENV["REDIS_URL"], decode_responses=True)
        accounts = Counsellors(client, PREFIX + "console:")
        for role, (name, helpline) in names.items():
            await accounts.add(name, helpline, PASSWORD, role)
        queue = RedisHandoffQueue(client, PREFIX + "handoff:")
        opened = [
            await queue.open(
                Ticket.new(
                    desk,
                    f"web-fuzz{run}{desk}",
                    "web",
                    desk,
                    "en",
                    Risk.ASKED,
                    "talk_to_human",
                    last_messages=("fuzz",),
                )
            )
            for desk in ("NG", "KE", "GH")
        ]
        await client.close()
        return [ticket.id for ticket in opened]

    own, other, partner = asyncio.run(prepare())
    sessions = {}
    for role, (name, _) in names.items():
        counsellor = Counsellor(fuzz_console, name)
        assert counsellor.login() == 200
        sessions[role] = (counsellor.cookie or "", counsellor.csrf)
    return fuzz.ConsoleKeys(sessions, own, other, partner)


@fuzz_settings(EXAMPLES["telegram"])
@given(data=st.data())
def test_telegram_webhook(bases, data):
    sent_and_checked(bases, data.draw(fuzz.telegram(TELEGRAM_SECRET)))


@fuzz_settings(EXAMPLES["twilio"])
@given(data=st.data())
def test_sms_and_whatsapp_webhooks(bases, data):
    channel = data.draw(st.sampled_from(["sms", "whatsapp"]))
    sent_and_checked(bases, data.draw(fuzz.twilio(channel, TWILIO_TOKEN, PUBLIC_URL)))


@fuzz_settings(EXAMPLES["web_post"])
@given(data=st.data())
def test_web_chat_messages(bases, web_token, data):
    sent_and_checked(bases, data.draw(fuzz.web_post(lambda: web_token)))


@fuzz_settings(EXAMPLES["web_inbox"])
@given(data=st.data())
def test_web_chat_inbox(bases, web_token, data):
    sent_and_checked(bases, data.draw(fuzz.web_inbox(lambda: web_token)))


@fuzz_settings(EXAMPLES["web_page"])
@given(data=st.data())
def test_web_chat_page(bases, data):
    sent_and_checked(bases, data.draw(fuzz.web_page()))


@fuzz_settings(EXAMPLES["rest"])
@given(data=st.data())
def test_rest_webhook(bases, data):
    sent_and_checked(bases, data.draw(fuzz.rest()))


@fuzz_settings(EXAMPLES["bot_other"])
@given(data=st.data())
def test_the_bots_other_routes(bases, data):
    sent_and_checked(bases, data.draw(fuzz.bot_other()))


@fuzz_settings(EXAMPLES["console"])
@given(data=st.data())
def test_console_api_admin_and_pages(bases, keys, data):
    sent_and_checked(bases, data.draw(fuzz.console_api(keys)))


@fuzz_settings(EXAMPLES["console_events"])
@given(data=st.data())
def test_console_event_stream(bases, keys, data):
    sent_and_checked(bases, data.draw(fuzz.console_events(keys)))


def _partner_sign(method: str, path: str, body: bytes) -> str:
    return sign(GH_SECRET, int(time.time()), signed_request(method, path, body))


@fuzz_settings(EXAMPLES["partner"])
@given(data=st.data())
def test_partner_api(bases, keys, data):
    sent_and_checked(bases, data.draw(fuzz.partner("GH", _partner_sign, keys)))


PARTNER_SCHEMA = schemathesis.openapi.from_path(str(fuzz.OPENAPI))


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
@pytest.mark.parametrize(
    "operation", [o.ok() for o in PARTNER_SCHEMA.get_all_operations()], ids=lambda o: f"{o.method} {o.path}"
)
def test_partner_api_from_its_openapi_document(bases, keys, operation, mode):
    """schemathesis's cases for each operation, mostly signed by desk GH (else they stop at the
    signature) and about the desk's own ticket, sent raw."""

    @fuzz_settings(EXAMPLES["partner_schema"])
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def property(case: Any, data: st.DataObject) -> None:
        sent_and_checked(bases, fuzz.from_schemathesis(case, data, keys, _partner_sign))

    property()


def test_the_run_sent_more_than_10000_requests_and_no_5xx(request, capsys, log_marks):
    """The statistics of the whole run, printed; checked when all of the module ran (one property alone sends fewer)."""
    errors = logged_errors(log_marks)
    figures = {"requests": TALLY.total, "unanswered": sum(TALLY.unanswered.values())}
    figures.update({str(status): count for status, count in sorted(TALLY.by_status().items())})
    with capsys.disabled():
        print("\n" + "\n".join([*TALLY.report(), *(f"  logged x{n}: {line}" for line, n in errors.most_common())]))
        print(json.dumps({"bench": "fuzz", "metric": "answers_by_status", "value": figures, "unit": "requests"}))
    if len([item for item in request.session.items if item.module is request.module]) < 19:
        pytest.skip("only part of the fuzz run was selected")
    assert TALLY.total >= 10_000 and not any(status >= 500 for status in TALLY.by_status())
