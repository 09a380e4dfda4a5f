"""The outbox end to end: a counsellor writes in the console (its own process), the Rasa server's
sender sends through the fake Telegram and Twilio APIs, Twilio reports back through the signed
status route, and the console shows each message's state. Redis for real."""

from __future__ import annotations

import asyncio
import random
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from twilio.request_validator import RequestValidator

from bot.handoff.counsellors import Counsellors
from scripts.fake_apis import PUBLIC_URL, TWILIO_TOKEN, FakeTelegram, FakeTwilio, channel_credentials
from scripts.local_bot import RunningBot, http, running_bot, running_console
from tests.conftest import CHANNEL_ENV, HANDOFF_FILE, redis_keys_removed
from tests.console_client import PASSWORD, Counsellor
from tests.test_channels import new_chat, post_twilio, say_telegram, sms
from tests.waiting import eventually

pytestmark = pytest.mark.rasa


def nigerian_phone() -> str:
    return "+23480" + "".join(random.choices("0123456789", k=8))


def mine(counsellor: Counsellor, ticket: str) -> list[dict[str, Any]]:
    """The counsellor's own messages in the conversation, as the console shows them."""
    said = counsellor.get(f"/api/tickets/{ticket}/messages")[1]["messages"]
    return [m for m in said if m["author"] == counsellor.username]


def states(counsellor: Counsellor, ticket: str) -> list[tuple[str, str]]:
    return [(m["delivery"]["state"], m["delivery"]["reason"]) for m in mine(counsellor, ticket)]


def settled_count(api: FakeTelegram, chat: int) -> int:
    """How many messages the chat has had, once no more come for a second (the bot's replies)."""
    count = -1
    while (now := len(api.messages_to(chat, count=1, timeout_s=0.1))) != count:
        count = now
        time.sleep(1)
    return count


def handed_to(counsellor: Counsellor, bot: RunningBot, chat: int, words: str) -> str:
    """A Telegram child of Nigeria asks for a person; ``counsellor`` claims the ticket. Its id."""
    say_telegram(bot, chat, "/start NG_en")
    say_telegram(bot, chat, words)
    ticket = eventually(lambda: counsellor.waiting_with(words))[0]["id"]
    assert counsellor.post(f"/api/tickets/{ticket}/claim")[0] == 200
    return ticket


def test_ten_messages_written_while_telegram_is_down_arrive_once_in_order_after_the_bot_restarts(
    model: Path, tmp_path_factory: pytest.TempPathFactory, telegram_api: FakeTelegram, twilio_api: FakeTwilio
):
    """The issue's case, shortened: Telegram unreachable while the counsellor writes 10 messages,
    then the Rasa server restarts. Before the outbox: 0 of 10 arrived, and the console said sent."""
    env = {
        **CHANNEL_ENV,
        "HELPLINE_REDIS_PREFIX": CHANNEL_ENV["HELPLINE_REDIS_PREFIX"] + "outbox:",
        "HELPLINE_HANDOFF_FILE": str(HANDOFF_FILE),
        "HELPLINE_OUTBOX_CLAIM_IDLE_S": "2",
    }
    credentials = channel_credentials(telegram_api, twilio_api)
    folder = tmp_path_factory.mktemp("outbox")
    (folder / "bot1").mkdir()
    (folder / "bot2").mkdir()
    chat, name = new_chat(), f"ngozi-{random.getrandbits(24):06x}"
    asyncio.run(_add_counsellor(env, name))
    try:
        with running_console(folder, env) as console:
            ngozi = Counsellor(console, name)
            assert ngozi.login() == 200
            with running_bot(folder / "bot1", model, credentials, env) as bot:
                ticket = handed_to(ngozi, bot, chat, "can i talk to a real person please")
                before = settled_count(telegram_api, chat)
                telegram_api.refuse_connections()
                try:
                    for i in range(10):
                        reply = {"text": f"outage message {i}", "key": f"outage-key-{i:04}"}
                        assert ngozi.post(f"/api/tickets/{ticket}/reply", reply)[0] == 200
                    assert ngozi.post(f"/api/tickets/{ticket}/reply", reply)[0] == 200  # sent again: same key
                    first = eventually(lambda: states(ngozi, ticket)[0][1])  # tried, and failed: the console says why
                    assert first.startswith("Telegram could not be reached")
                    time.sleep(3)
                    assert [state for state, _ in states(ngozi, ticket)] == ["queued"] * 10
                finally:
                    telegram_api.recover()
                    time.sleep(0.5)
            # The server stopped (SIGTERM) with every message unsent; another one starts.
            with running_bot(folder / "bot2", model, credentials, env):
                said = [m["text"] for m in telegram_api.messages_to(chat, count=before + 10, timeout_s=60)]
                time.sleep(2)  # a message sent twice would have come by now
                said = [m["text"] for m in telegram_api.messages_to(chat, count=1, timeout_s=0.1)]
                assert said[before:] == [f"outage message {i}" for i in range(10)]
                assert eventually(lambda: states(ngozi, ticket) == [("sent", "")] * 10)
    finally:
        redis_keys_removed(env["HELPLINE_REDIS_PREFIX"])


def post_status(bot: RunningBot, channel: str, form: dict[str, str], forged: bool = False) -> int:
    url = f"{PUBLIC_URL}/webhooks/{channel}/status"
    signature = RequestValidator("another-token-entirely00" if forged else TWILIO_TOKEN).compute_signature(url, form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return http("POST", f"{bot.base_url}/webhooks/{channel}/status", urllib.parse.urlencode(form).encode(), headers)[0]


def test_a_double_click_sends_once_and_twilios_signed_report_marks_it_delivered(
    bot: RunningBot, console: str, accounts: dict[str, str], twilio_api: FakeTwilio
):
    amina = Counsellor(console, accounts["NG"])
    assert amina.login() == 200
    phone = nigerian_phone()
    post_twilio(bot, "sms", sms("i need to talk to a person now", phone))
    ticket = eventually(lambda: amina.waiting_with("i need to talk to a person now"))[0]["id"]
    assert amina.post(f"/api/tickets/{ticket}/claim")[0] == 200
    reply = {"text": "Hi, I'm Amina from the helpline.", "key": "double-click-0001"}
    assert [amina.post(f"/api/tickets/{ticket}/reply", reply)[0] for _ in range(2)] == [200, 200]
    assert amina.post(f"/api/tickets/{ticket}/reply", {"text": "hi", "key": "bad key!"})[0] == 400

    taken = eventually(lambda: twilio_api.sent(lambda p, q: q.get("To") == phone and q["Body"] == reply["text"]))
    time.sleep(1)
    assert len(twilio_api.sent(lambda p, q: q.get("To") == phone and q["Body"] == reply["text"])) == 1
    assert taken[0]["StatusCallback"] == f"{PUBLIC_URL}/webhooks/sms/status"
    assert eventually(lambda: states(amina, ticket) == [("sent", "")])
    sid = next(
        f"SM{index:032d}"  # the fake's SID: the number of calls before it
        for index, (path, params) in enumerate(twilio_api.calls)
        if params.get("To") == phone and params.get("Body") == reply["text"]
    )
    report = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32, "To": phone}
    assert post_status(bot, "sms", report, forged=True) == 403
    assert post_status(bot, "sms", {**report, "MessageStatus": "sent"}) == 204  # on its way: nothing changes
    assert states(amina, ticket) == [("sent", "")]
    assert post_status(bot, "sms", report) == 204
    assert eventually(lambda: states(amina, ticket) == [("delivered", "")])


def test_a_child_who_blocked_the_bot_shows_the_counsellor_why_their_message_failed(
    bot: RunningBot, console: str, accounts: dict[str, str], telegram_api: FakeTelegram
):
    amina = Counsellor(console, accounts["NG"])
    assert amina.login() == 200
    chat = new_chat()
    ticket = handed_to(amina, bot, chat, "please can a real person talk to me")
    settled_count(telegram_api, chat)
    telegram_api.blocked()
    try:
        reply = {"text": "Are you still there?", "key": "blocked-0001"}
        assert amina.post(f"/api/tickets/{ticket}/reply", reply)[0] == 200
        assert eventually(lambda: states(amina, ticket) == [("failed", "the child blocked the bot")])
        time.sleep(1.5)
        answered = [status for _, q, status, _ in telegram_api.log() if str(q.get("chat_id")) == str(chat)]
        assert answered[-1:] == [403] and answered.count(403) == 1  # not tried again
    finally:
        telegram_api.recover()


async def _add_counsellor(env: dict[str, str], name: str) -> None:
    client = aioredis.from_url(env["REDIS_URL"])
    await Counsellors(client, env["HELPLINE_REDIS_PREFIX"] + "console:").add(name, "NG", PASSWORD)
    await client.close()
