"""Privacy through the whole bot on the real Redis: what expires does, "delete my data" leaves
nothing keyed to the child, and the logs carry no address or message text."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import pytest
import redis
import redis.asyncio as aioredis

from bot.conversation.dialogue import Dialogue
from bot.handoff.queue import RedisHandoffQueue, Risk, Ticket
from bot.privacy.sender_ids import SenderIds
from bot.storage.stores import RedisAddressBook, RedisConversations, RedisDedupe, RedisInbox
from tests.conftest import CHANNEL_ENV
from tests.test_channels import new_chat, post_twilio, say_telegram, sms

REDIS_URL = CHANNEL_ENV["REDIS_URL"]


async def test_every_kind_of_personal_data_expires_on_its_own():
    """Periods shortened to a second: Redis itself removes the keys."""
    prefix = f"test-expiry-{uuid.uuid4().hex}:"
    client = aioredis.from_url(REDIS_URL)
    await RedisConversations(client, prefix).save("sms-a", "{}", ttl_s=1)
    await RedisAddressBook(client, prefix).remember("sms-a", "+254700000000", ttl_s=1)
    await RedisDedupe(client, prefix).first_time("sms:sms-a:SM1", ttl_s=1)
    await RedisInbox(client, prefix).put("web-b", "A counsellor is here.", [], ttl_s=1)
    queue = RedisHandoffQueue(client, prefix + "handoff:", transcript_s=lambda helpline: 1)
    ticket = await queue.open(
        Ticket.new("KE", "sms-a", "sms", "KE", "en", Risk.ASKED, "talk_to_human", last_messages=("help me",))
    )
    await queue.append(ticket, "child", "help me")
    await queue.claim(ticket.id, "c1")
    still_open = [key async for key in client.scan_iter(match=f"{prefix}*")]
    assert (
        any(b"ticket:" in key for key in still_open) and await client.ttl(f"{prefix}handoff:ticket:{ticket.id}") == -1
    )
    await queue.close(ticket.id, "counselling_given")  # from now the transcript ages
    await asyncio.sleep(2.2)
    left = [key async for key in client.scan_iter(match=f"{prefix}*")]
    # Only the helpline's event stream and its claim times remain: ticket ids and times, nobody's data.
    assert sorted(key.decode().removeprefix(prefix) for key in left) == ["handoff:claims:KE", "handoff:events:KE"]
    await client.delete(*left)
    await client.close()


def personal_data_left(prefix: str, needles: list[str]) -> list[str]:
    """Every key under ``prefix`` whose name or value holds one of ``needles``."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    found = []
    for key in client.scan_iter(match=f"{prefix}*"):
        kind = client.type(key)
        if kind == "string":
            values = [client.get(key) or ""]
        elif kind == "hash":
            values = [f"{k}={v}" for k, v in client.hgetall(key).items()]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        elif kind == "stream":
            values = [str(fields) for _, fields in client.xrange(key)]
        else:
            values = []
        for needle in needles:
            if needle in key or any(needle in value for value in values):
                found.append(f"{key}: {needle}")
    client.close()
    return found


@pytest.mark.rasa
def test_delete_my_data_leaves_nothing_keyed_to_the_child(bot, twilio_api, telegram_api):
    phone = "+23480" + "".join(random.choices("0123456789", k=8))
    sender = SenderIds(CHANNEL_ENV["HELPLINE_SENDER_KEY"].encode()).of("sms", phone)
    said = ["hello there", "i need to talk to a real person", "1", "my stepdad hurts me when mum is out", "stop"]
    for text in said:
        post_twilio(bot, "sms", sms(text, phone))
        time.sleep(0.3)
    replies = twilio_api.messages_to(phone, count=6)
    prefix = CHANNEL_ENV["HELPLINE_REDIS_PREFIX"]
    # Only what is this child's alone: other tests' children say "i need to talk to a real person" too.
    needles = [sender, phone, phone.lstrip("+"), "my stepdad hurts me when mum is out"]
    assert personal_data_left(prefix, needles), "the conversation, address and ticket are kept until then"

    post_twilio(bot, "sms", sms("delete my data", phone))
    asked = twilio_api.messages_to(phone, count=len(replies) + 1)
    post_twilio(bot, "sms", sms("1", phone))
    done = twilio_api.messages_to(phone, count=len(asked) + 1)[-1]
    texts = Dialogue.load().texts
    assert done == texts.get("deleted", "en")
    time.sleep(1)  # erasure runs once Rasa has saved the turn
    assert personal_data_left(prefix, needles) == []

    chat = new_chat()
    tg_sender = SenderIds(CHANNEL_ENV["HELPLINE_SENDER_KEY"].encode()).of("telegram", str(chat))
    say_telegram(bot, chat, "salut j'ai besoin d'aide", language="fr")
    say_telegram(bot, chat, "/delete", language="fr")
    count = len(telegram_api.messages_to(chat, count=3))
    say_telegram(bot, chat, "1", language="fr")
    assert telegram_api.messages_to(chat, count=count + 1)[-1]["text"] == texts.get("deleted", "fr")
    time.sleep(1)
    assert personal_data_left(prefix, [tg_sender, str(chat), "salut j'ai besoin d'aide"]) == []


@pytest.mark.rasa
def test_logs_hold_no_address_name_or_message_through_whole_conversations(
    bot, console, console_folder, accounts, twilio_api, telegram_api
):
    """Three languages, three channels, a handoff with a counsellor: then every log is searched."""
    from tests.console_client import Counsellor

    phone = "+23480" + "".join(random.choices("0123456789", k=8))
    english = [
        "i want to talk to a real person now",
        "0",
        "0",
        "im Amara Okafor, my uncle touches me and says it is a secret",
    ]
    for text in english:
        post_twilio(bot, "sms", sms(text, phone))
        time.sleep(0.3)
    twilio_api.messages_to(phone, count=5)
    amina = Counsellor(console, accounts["NG"])
    assert amina.login() == 200
    queue = amina.get("/api/queue")[1]["waiting"]
    ticket = next((t for t in queue if "i want to talk to a real person now" in t["last_messages"]), None)
    assert ticket, (queue, twilio_api.messages_to(phone, count=1, timeout_s=0.1))
    amina.post(f"/api/tickets/{ticket['id']}/claim")
    amina.post(f"/api/tickets/{ticket['id']}/reply", {"text": "Thank you for telling me, Amara."})
    amina.post(f"/api/tickets/{ticket['id']}/close", {"outcome": "counselling_given"})

    chat = new_chat()
    french = ["bonjour je m'appelle Léonie Dubois", "quelqu'un me fait du chantage avec mes photos"]
    for text in french:
        say_telegram(bot, chat, text, language="fr")
    telegram_api.messages_to(chat, count=3)

    whatsapp = "whatsapp:+34" + "".join(random.choices("0123456789", k=9))
    spanish = ["hola soy Martina Gómez", "en el colegio me insultan en el grupo de clase"]
    for text in spanish:
        form = sms(text, whatsapp.removeprefix("whatsapp:"), to="whatsapp:+14155238886")
        form["From"] = whatsapp
        post_twilio(bot, "whatsapp", form)
    twilio_api.messages_to(whatsapp, count=2)
    time.sleep(1)

    logs = {
        path.name: path.read_text(encoding="utf-8", errors="replace")
        for path in [*bot.log.parent.glob("*.log"), console_folder / "console.log"]
    }
    assert {"rasa.log", "actions.log", "console.log"} <= set(logs) and " INFO " in logs["rasa.log"]
    secrets_ = [
        phone,
        phone.lstrip("+"),
        str(chat),
        whatsapp.removeprefix("whatsapp:"),
        "Amara",
        "Okafor",
        "Léonie",
        "Dubois",
        "Martina",
        "Gómez",
        english[0],
        english[3],
        *french,
        *spanish,
        "Thank you for telling me",
    ]
    leaked = [(name, value) for name, text in logs.items() for value in secrets_ if value in text]
    assert not leaked
