"""One focused test for each 5xx the fuzzing found (tests/test_fuzz.py), at its root and through the
running server, so each stays fixed even when the fuzz run's random requests miss it. (Malformed
HTTP framing, the other finding, is tests/test_http_guard.py.)"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from typing import Iterator
from urllib.parse import urlencode

import pytest
import redis.asyncio as aioredis
from twilio.request_validator import RequestValidator

from bot.handoff.counsellors import ADMIN, Counsellors
from bot.privacy.secret_compare import same_secret
from bot.stats import export
from bot.storage.stores import check_cursor, is_cursor
from bot.wiring.json_body import BadBody, json_body
from scripts.fake_apis import PUBLIC_URL, TELEGRAM_SECRET, TELEGRAM_TOKEN, TWILIO_TOKEN
from scripts.local_bot import running_console
from tests.conftest import CHANNEL_ENV
from tests.console_client import PASSWORD, Counsellor
from tests.raw_http import Answer, request

DEEP = b"[" * 20_000 + b"]" * 20_000  # past Python's recursion limit (json.loads: RecursionError), under 64 KiB
NOT_CURSORS = ["1-0\n", "\u0661-\u0660", "18446744073709551616-0", "0-18446744073709551616", "1-0 ", "+1-0", "-"]


# -- a cursor Redis would refuse: the web inbox and the console's event stream answered 500 ----------


@pytest.mark.parametrize("cursor", NOT_CURSORS)
def test_a_cursor_redis_would_refuse_is_not_a_cursor(cursor):
    assert not is_cursor(cursor)
    with pytest.raises(ValueError, match="two numbers below 2\\^64"):
        check_cursor(cursor)


def test_the_largest_stream_id_is_a_cursor():
    assert is_cursor("18446744073709551615-18446744073709551615") and is_cursor("0-0")


@pytest.mark.parametrize("cursor", ["1-0%0A", "18446744073709551616-0", "%D9%A1-%D9%A0"])
def test_the_inbox_refuses_such_a_cursor_with_the_reason(bot, cursor):
    token = request(bot.base_url, "POST", "/webhooks/web/webhook", [], b'{"message": "hi"}').json()["token"]
    answer = request(bot.base_url, "GET", f"/webhooks/web/inbox?after={cursor}", [("Authorization", f"Bearer {token}")])
    assert (answer.status, answer.json()) == (
        400,
        {"error": "'after': a cursor is two numbers below 2^64 joined by '-', as the last message's id"},
    )


@pytest.fixture(scope="module")
def own_console(tmp_path_factory, handoff_file) -> Iterator[str]:
    """A console process of this module's own on the bot's Redis keys: one test takes up all its
    waiting connections, which must not slow the other tests' console."""
    env = {**CHANNEL_ENV, "HELPLINE_HANDOFF_FILE": str(handoff_file)}
    with running_console(tmp_path_factory.mktemp("findings-console"), env) as base:
        yield base


@pytest.fixture(scope="module")
def admin(own_console) -> Counsellor:
    """A logged-in admin of KE (reads KE's statistics)."""
    name = f"fuzz-admin-{secrets.token_hex(3)}"

    async def add() -> None:
        client = aioredis.from_url(CHANNEL_ENV["REDIS_URL"])
        await Counsellors(client, CHANNEL_ENV["HELPLINE_REDIS_PREFIX"] + "console:").add(name, "KE", PASSWORD, ADMIN)
        await client.close()

    asyncio.run(add())
    counsellor = Counsellor(own_console, name)
    assert counsellor.login() == 200
    return counsellor


def events(console: str, cookie: str, *headers: tuple[str, str]) -> Answer:
    """The start of an event stream: its status, and its first event."""
    return request(console, "GET", "/api/events", [("Cookie", f"helpline_session={cookie}"), *headers], timeout_s=10)


@pytest.mark.parametrize("last_event", ["1-0\n", "99999999999999999999-0", "18446744073709551616-1"])
def test_the_event_stream_starts_from_now_after_an_id_redis_would_refuse(own_console, admin, last_event):
    answer = events(own_console, admin.cookie, ("Last-Event-ID", last_event))
    assert (answer.status, answer.headers["content-type"], answer.body) == (
        200,
        "text/event-stream",
        b"retry: 1000\n\n",
    )


def test_event_streams_beyond_the_consoles_waiting_connections_end_instead_of_failing(own_console, admin):
    """A stream holds one of the console's 12 waiting Redis connections until it next writes (up to
    15 s after its page is gone, when the page asked with Connection: close): 30 reconnecting pages
    took them all, and the next streams answered 500. They now start, then end (the page comes back
    in a second)."""
    answers = [events(own_console, admin.cookie) for _ in range(30)]
    assert {(a.status, a.body) for a in answers} == {(200, b"retry: 1000\n\n")}


# -- a secret header that is not ASCII: compare_digest raised, the console and Telegram answered 500 --


@pytest.mark.parametrize("given", ["é", "\udcff\udcfe", "\ud800", "", None])
def test_any_text_is_simply_not_the_secret(given):
    assert same_secret(given, "s3cret") is False and same_secret(given, b"s3cret") is False


def test_the_secret_is_the_secret():
    assert same_secret("s3cret", "s3cret") and same_secret("s3cret", b"s3cret")


@pytest.mark.parametrize("csrf", ["é", b"\xff\xfe"])
def test_a_csrf_token_that_is_not_ascii_is_refused_as_a_wrong_one(own_console, admin, csrf):
    answer = request(
        own_console,
        "POST",
        "/api/tickets/nope/claim",
        [("Cookie", f"helpline_session={admin.cookie}"), ("X-CSRF-Token", csrf)],
        b"{}",
    )
    assert (answer.status, answer.json()) == (401, {"error": "log in first (and send X-CSRF-Token)"})


@pytest.mark.parametrize("secret", ["é" + TELEGRAM_SECRET, b"\xff\xfe"])
def test_a_telegram_secret_header_that_is_not_ascii_is_forbidden(bot, secret):
    answer = request(
        bot.base_url, "POST", "/webhooks/telegram/webhook", [("X-Telegram-Bot-Api-Secret-Token", secret)], b"{}"
    )
    assert (answer.status, answer.json()) == (403, {"error": "forbidden"})


# -- JSON nested past Python's recursion limit: RecursionError, not ValueError: 500 --------------------


def test_json_nested_too_deeply_is_a_bad_body_with_the_reason():
    with pytest.raises(BadBody, match="^body must be JSON nested less deeply$"):
        json_body(DEEP)
    with pytest.raises(BadBody, match="^body must be UTF-8 JSON$"):
        json_body(b"\xff" + DEEP)
    assert json_body(b"[[1]]") == [[1]]


@pytest.mark.parametrize(
    "path, headers, status, error",
    [
        ("/webhooks/rest/webhook", [], 400, "body must be JSON nested less deeply"),
        ("/webhooks/web/webhook", [], 400, "body must be JSON nested less deeply"),
        (
            "/webhooks/telegram/webhook",
            [("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)],
            400,
            "body must be a Telegram Update (JSON object)",
        ),
    ],
)
def test_the_bot_refuses_json_nested_too_deeply_with_the_reason(bot, path, headers, status, error):
    answer = request(bot.base_url, "POST", path, [("Content-Type", "application/json"), *headers], DEEP)
    assert (answer.status, answer.json()) == (status, {"error": error})


@pytest.mark.parametrize(
    "body, error",
    [
        (DEEP, "body must be JSON nested less deeply"),
        (
            b'{"username": "\\ud800", "password": "x"}',
            "body must be Unicode text: a \\ud800-\\udfff escape must be half of a pair",
        ),
        (
            b'{"username": "amina", "password": "\\udfff"}',
            "body must be Unicode text: a \\ud800-\\udfff escape must be half of a pair",
        ),
        (b"[1]", "body must be a JSON object"),
    ],
    ids=["nested", "surrogate-username", "surrogate-password", "array"],
)
def test_a_login_that_is_not_a_json_object_of_text_is_a_400_with_the_reason(own_console, body, error):
    answer = request(own_console, "POST", "/api/login", [("Content-Type", "application/json")], body)
    assert (answer.status, answer.json()) == (400, {"error": error})


def test_a_lone_surrogate_is_a_bad_body_and_a_pair_is_text():
    with pytest.raises(BadBody, match="half of a pair"):
        json_body(b'{"message": "\\ud800"}')
    assert json_body(b'{"message": "\\ud83d\\ude00"}') == {"message": "\U0001f600"}


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/webhooks/web/webhook"])
def test_the_bot_refuses_a_lone_surrogate_with_the_reason(bot, path):
    answer = request(bot.base_url, "POST", path, [], b'{"sender": "x", "message": "hi \\udc00"}')
    assert (answer.status, answer.json()) == (
        400,
        {"error": "body must be Unicode text: a \\ud800-\\udfff escape must be half of a pair"},
    )


# -- statistics of a day with no ISO week we can name: '999-W01' failed to parse, 9999-12-31 overflowed --


@pytest.mark.parametrize(
    "day, why",
    [
        ("0999-01-01", "0999-01-01 is not between 2000-01-01 and 9998-12-31"),
        ("9999-12-31", "9999-12-31 is not between 2000-01-01 and 9998-12-31"),
        ("2026-02-30", "'2026-02-30' is not a date such as 2026-11-23"),
    ],
)
def test_a_day_statistics_cannot_be_kept_for_is_refused_with_the_reason(day, why):
    with pytest.raises(ValueError) as refused:
        export.parse_day(day)
    assert str(refused.value) == why


def test_the_last_day_has_a_week_with_an_end():
    weeks = export.weeks_between(export.LAST_DAY - dt.timedelta(days=10), export.LAST_DAY)
    assert weeks == ["9998-W52", "9998-W53"]


@pytest.mark.parametrize(
    "query, why",
    [
        ("from=0999-01-01&to=1000-01-01", "0999-01-01 is not between 2000-01-01 and 9998-12-31"),
        ("from=9999-12-27&to=9999-12-31", "9999-12-27 is not between 2000-01-01 and 9998-12-31"),
    ],
)
def test_the_statistics_api_refuses_such_days_with_the_reason(admin, query, why):
    status, answer = admin.get(f"/api/stats?{query}")
    assert (status, answer) == (400, {"error": f"from and to must be dates such as 2026-11-23 ({why})"})


# -- Telegram updates of unexpected shape: a date out of range raised OverflowError or OSError (500), and
# -- an id of another type was taken, to fail when the bot answered (int("x")) ----------------------------

SOUND_UPDATE = {
    "update_id": 7,
    "message": {
        "message_id": 1,
        "date": 1_800_000_000,
        "chat": {"id": 9_100_000_001, "type": "private"},
        "from": {"id": 9_100_000_001, "is_bot": False, "first_name": "A"},
        "text": "hi",
    },
}


USER = SOUND_UPDATE["message"]["from"]
SOUND_BLOCK = {
    "update_id": 8,
    "my_chat_member": {
        "chat": {"id": 9_100_000_001, "type": "private"},
        "from": USER,
        "date": 1_800_000_000,
        "old_chat_member": {"status": "member", "user": USER},
        "new_chat_member": {"status": "kicked", "user": USER, "until_date": 0},
    },
}
SOUND_PRESS = {
    "update_id": 9,
    "callback_query": {"id": "1", "from": USER, "chat_instance": "1", "message": SOUND_UPDATE["message"], "data": "1"},
}
REMOVED = object()


def changed(path: tuple[str, ...], value: object, update: dict = SOUND_UPDATE) -> dict:
    """``update`` with the part at ``path`` set to ``value`` (or removed)."""
    update = json.loads(json.dumps(update))
    *parents, last = path
    part = update
    for key in parents:
        part = part[key]
    if value is REMOVED:
        del part[last]
    else:
        part[last] = value
    return update


ODD_UPDATES = {
    "date-past-time_t": changed(("message", "date"), 2**70),
    "date-too-large-for-the-os": changed(("message", "date"), 1e308),
    "chat-id-a-word": changed(("message", "chat", "id"), "x"),
    "chat-id-a-fraction": changed(("message", "chat", "id"), 1.5),
    "chat-id-true": changed(("message", "chat", "id"), True),
    "update-id-a-word": changed(("update_id",), "abc"),
    "update-id-a-list": changed(("update_id",), [1]),
    "chat-a-list": changed(("message", "chat"), []),
    "message-without-its-chat": changed(("message", "chat"), REMOVED),
    "text-a-number": changed(("message", "text"), 5),
    "language-a-list": changed(("message", "from", "language_code"), ["en"]),
    "block-without-the-new-member": changed(("my_chat_member", "new_chat_member"), REMOVED, SOUND_BLOCK),
    "block-without-its-chat": changed(("my_chat_member", "chat"), REMOVED, SOUND_BLOCK),
    "block-status-a-number": changed(("my_chat_member", "new_chat_member", "status"), 1, SOUND_BLOCK),
    "press-without-who": changed(("callback_query", "from"), REMOVED, SOUND_PRESS),
    "press-data-a-dict": changed(("callback_query", "data"), {"a": 1}, SOUND_PRESS),
}


@pytest.mark.parametrize("payload", ODD_UPDATES.values(), ids=ODD_UPDATES.keys())
def test_an_update_telegram_could_not_have_sent_is_not_an_update(payload):
    from telegram import Bot

    from channels.telegram import read_update

    bot = Bot(TELEGRAM_TOKEN)
    assert read_update(payload, bot) is None
    assert all(read_update(sound, bot) is not None for sound in (SOUND_UPDATE, SOUND_BLOCK, SOUND_PRESS))


@pytest.mark.parametrize("payload", ODD_UPDATES.values(), ids=ODD_UPDATES.keys())
def test_the_webhook_refuses_such_an_update_with_the_reason(bot, payload):
    answer = request(
        bot.base_url,
        "POST",
        "/webhooks/telegram/webhook",
        [("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET), ("Content-Type", "application/json")],
        json.dumps(payload).encode(),
    )
    assert (answer.status, answer.json()) == (400, {"error": "body must be a Telegram Update (JSON object)"})


# -- a sender number with a final newline or digits of another script passed the check ("$", "\d") ------


@pytest.mark.parametrize(
    "sender", ["+2348012345678\n", "+\u0662\u0663\u0664\u0668\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668"]
)
def test_a_twilio_sender_that_is_not_a_number_in_ascii_digits_is_refused(bot, sender):
    form = {"MessageSid": "SM" + "a" * 32, "From": sender, "Body": "hi"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC_URL}/webhooks/sms/webhook", form)
    answer = request(
        bot.base_url,
        "POST",
        "/webhooks/sms/webhook",
        [("X-Twilio-Signature", signature), ("Content-Type", "application/x-www-form-urlencoded")],
        urlencode(form).encode(),
    )
    assert (answer.status, answer.json()) == (400, {"error": "a Twilio message needs MessageSid and From"})


# -- a Cookie header Python's parser refuses: every console route that reads the session answered 500 --


@pytest.mark.parametrize(
    ("headers", "found"),
    [
        (["helpline_session=abc"], "abc"),
        (['other=1; helpline_session="abc"'], "abc"),
        (["helpline_session=0 <="], "0 <="),
        (["weird<=1; helpline_session=abc"], "abc"),  # another application's cookie the parser refuses
        (["a=1", "helpline_session=abc"], "abc"),
        (["helpline_sessionx=abc; xhelpline_session=abc"], None),
        (["helpline_session="], None),
        (["helpline_session=\udcc3\udca9t\udcc3"], None),  # bytes that are not UTF-8, as Sanic hands them on
        (["helpline_session=caf\u00e9"], None),
        (["helpline_session"], None),
        ([], None),
    ],
)
def test_the_session_cookie_is_found_whatever_else_the_header_holds(headers, found):
    from console.cookies import cookie_value

    assert cookie_value(headers, "helpline_session") == found


@pytest.mark.parametrize(
    "cookie",
    ["helpline_session=0 <=", "<=; helpline_session=nope", "helpline_session=\x7f", b"helpline_session=\xc3\xff"],
)
def test_the_console_answers_a_cookie_header_it_cannot_parse_as_logged_out(own_console, cookie):
    answer = request(own_console, "POST", "/api/tickets/nope/claim", [("Cookie", cookie)], b"null")
    assert (answer.status, answer.json()) == (401, {"error": "log in first (and send X-CSRF-Token)"})
    assert request(own_console, "GET", "/api/queue", [("Cookie", cookie)]).status == 401


def test_a_counsellor_with_a_cookie_the_parser_refuses_beside_theirs_is_still_logged_in(own_console, admin):
    answer = request(own_console, "GET", "/api/queue", [("Cookie", f"weird<=1; helpline_session={admin.cookie}")])
    assert answer.status == 200 and "waiting" in answer.json()
