"""A child on Telegram, on WhatsApp, and on SMS across restarts, reaches a counsellor and they
write both ways: the whole bot with its channels (fake Telegram and Twilio APIs), the console as
its own process, Redis for real."""

from __future__ import annotations

import asyncio
import random
import secrets

import pytest
import redis.asyncio as aioredis

from bot.conversation.dialogue import Dialogue
from bot.handoff.counsellors import Counsellors
from scripts.fake_apis import channel_credentials
from scripts.local_bot import running_bot, running_console
from tests.conftest import CHANNEL_ENV, HANDOFF_FILE, redis_keys_removed
from tests.console_client import PASSWORD, Counsellor
from tests.numbers import gives, helpline, helpline_number
from tests.test_channels import new_chat, post_twilio, say_telegram, sms
from tests.waiting import eventually

pytestmark = pytest.mark.rasa


@pytest.fixture(scope="module")
def texts():
    return Dialogue.load().texts


def said_to_counsellor(counsellor: Counsellor, ticket: str, text: str) -> bool:
    return ("child", text) in [
        (m["author"], m["text"]) for m in counsellor.get(f"/api/tickets/{ticket}/messages")[1]["messages"]
    ]


def nigerian_phone() -> str:
    return "+23480" + "".join(random.choices("0123456789", k=8))


def test_a_telegram_child_and_a_counsellor_write_both_ways_until_the_bot_gets_it_back(
    bot, console, accounts, telegram_api, texts
):
    amina = Counsellor(console, accounts["NG"])
    assert amina.login() == 200
    chat = new_chat()
    say_telegram(bot, chat, "/start NG_en")  # the helpline's deep link names the country
    telegram_api.messages_to(chat, count=1)
    say_telegram(bot, chat, "can i talk to a real person")
    queued = [m for m in telegram_api.messages_to(chat, count=3) if "Test desk NG" in m["text"]]
    assert queued, "the child is told they are being connected"
    ticket = eventually(lambda: amina.waiting_with("can i talk to a real person"))[0]
    assert ticket["channel"] == "telegram" and ticket["language"] == "en"
    assert str(chat) not in str(ticket)  # the chat id never reaches the console

    assert amina.post(f"/api/tickets/{ticket['id']}/claim")[0] == 200
    before = len(telegram_api.messages_to(chat, count=1, timeout_s=0.1))
    assert amina.post(f"/api/tickets/{ticket['id']}/reply", {"text": "Hello, I'm Amina. I'm listening."})[0] == 200
    assert telegram_api.messages_to(chat, count=before + 1)[-1]["text"] == "Hello, I'm Amina. I'm listening."

    say_telegram(bot, chat, "/restart")  # Rasa's own command: here, words for the counsellor
    say_telegram(bot, chat, "someone is sending me scary messages")
    eventually(lambda: said_to_counsellor(amina, ticket["id"], "someone is sending me scary messages"))
    assert said_to_counsellor(amina, ticket["id"], "restart")
    assert len(telegram_api.messages_to(chat, count=1, timeout_s=0.1)) == before + 1  # the bot stayed quiet

    assert amina.post(f"/api/tickets/{ticket['id']}/handback")[0] == 200
    assert telegram_api.messages_to(chat, count=before + 2)[-1]["text"] == texts.get("handoff_returned", "en")
    say_telegram(bot, chat, "/helpline")  # the bot answers again: Nigeria's helpline, from the deep link
    answer = [m["text"] for m in telegram_api.messages_to(chat, count=before + 3)][before + 2 :]
    assert len(answer) == 1 and helpline("NG").name in answer[0], answer
    assert gives(answer[0], helpline_number("NG")), answer


def test_a_whatsapp_child_gets_prepared_replies_in_their_own_language(bot, console, accounts, twilio_api, texts):
    amina = Counsellor(console, accounts["NG"])
    assert amina.login() == 200
    address = "whatsapp:" + nigerian_phone()
    form = sms("quiero hablar con una persona por favor", address.removeprefix("whatsapp:"), to="whatsapp:+14155238886")
    form["From"] = address
    assert post_twilio(bot, "whatsapp", form) == 200
    ticket = eventually(lambda: amina.waiting_with("quiero hablar con una persona por favor"))[0]
    assert ticket["channel"] == "whatsapp" and ticket["language"] == "es"
    assert amina.post(f"/api/tickets/{ticket['id']}/claim")[0] == 200

    status, canned = amina.get(f"/api/tickets/{ticket['id']}/canned")
    greeting = next(r for r in canned["replies"] if r["key"] == "greeting")
    assert (
        status == 200
        and greeting["english"].startswith("Hi, I'm a counsellor")
        and greeting["text"] != greeting["english"]
    )
    before = len(twilio_api.messages_to(address, count=1, timeout_s=0.5))
    assert amina.post(f"/api/tickets/{ticket['id']}/reply", {"text": greeting["text"]})[0] == 200
    assert twilio_api.messages_to(address, count=before + 1)[-1] == greeting["text"]

    answer = sms("me están molestando en un grupo", address.removeprefix("whatsapp:"), to="whatsapp:+14155238886")
    answer["From"] = address
    post_twilio(bot, "whatsapp", answer)
    eventually(lambda: said_to_counsellor(amina, ticket["id"], "me están molestando en un grupo"))

    assert amina.post(f"/api/tickets/{ticket['id']}/close", {"outcome": "no_such_outcome"})[0] == 400
    assert amina.post(f"/api/tickets/{ticket['id']}/close", {"outcome": "counselling_given"})[0] == 200
    assert twilio_api.messages_to(address, count=before + 2)[-1] == texts.get("handoff_ended", "es")


async def test_nothing_is_lost_when_the_bot_and_the_console_restart_mid_handoff(
    model, tmp_path_factory, telegram_api, twilio_api, texts
):
    """Own processes on their own keys: the session's bot and console are not disturbed. (Async for the
    counsellor's account only: the processes are the test's own, its blocking calls hold up nothing.)"""
    env = {
        **CHANNEL_ENV,
        "HELPLINE_REDIS_PREFIX": CHANNEL_ENV["HELPLINE_REDIS_PREFIX"] + "restart:",
        "HELPLINE_HANDOFF_FILE": str(HANDOFF_FILE),
    }
    credentials = channel_credentials(telegram_api, twilio_api)
    folder = tmp_path_factory.mktemp("restart")
    (folder / "bot1").mkdir()
    (folder / "bot2").mkdir()
    phone = nigerian_phone()
    name = f"nkechi-{secrets.token_hex(3)}"
    try:
        with running_bot(folder / "bot1", model, credentials, env) as bot, running_console(folder, env) as console:
            await _add_counsellor(env, name)
            nkechi = Counsellor(console, name)
            assert nkechi.login() == 200
            post_twilio(bot, "sms", sms("please i need a person to talk to", phone))
            ticket = eventually(lambda: nkechi.waiting_with("please i need a person to talk to"))[0]["id"]
            assert nkechi.post(f"/api/tickets/{ticket}/claim")[0] == 200
            before = len(twilio_api.messages_to(phone, count=2))
            nkechi.post(f"/api/tickets/{ticket}/reply", {"text": "I'm Nkechi. I'm here."})
            assert twilio_api.messages_to(phone, count=before + 1)[-1] == "I'm Nkechi. I'm here."
        # Both are down. The counsellor's next message waits in Redis for a channel to send it.
        with running_console(folder, env) as console:
            nkechi.base = console  # same session cookie: sessions live in Redis
            status, seen = nkechi.get(f"/api/tickets/{ticket}/messages")
            assert status == 200 and seen["ticket"]["state"] == "claimed" and seen["ticket"]["counsellor"] == name
            assert [m["text"] for m in seen["messages"]] == ["I'm Nkechi. I'm here."]
            assert nkechi.post(f"/api/tickets/{ticket}/reply", {"text": "Are you still there?"})[0] == 200
            with running_bot(folder / "bot2", model, credentials, env) as bot:
                assert (
                    twilio_api.messages_to(phone, count=before + 2)[-1] == "Are you still there?"
                )  # sent after the restart
                post_twilio(bot, "sms", sms("yes im here", phone))
                eventually(lambda: said_to_counsellor(nkechi, ticket, "yes im here"))
                await asyncio.sleep(1)
                assert (
                    len(twilio_api.messages_to(phone, count=1, timeout_s=0.1)) == before + 2
                )  # still the counsellor's
    finally:
        redis_keys_removed(env["HELPLINE_REDIS_PREFIX"])


async def _add_counsellor(env: dict[str, str], name: str) -> None:
    client = aioredis.from_url(env["REDIS_URL"])
    await Counsellors(client, env["HELPLINE_REDIS_PREFIX"] + "console:").add(name, "NG", PASSWORD)
    await client.close()
