"""A child on SMS reaches a counsellor's queue through the whole bot, and the bot steps aside."""

from __future__ import annotations

import asyncio
import random
import time
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.conversation.dialogue import Dialogue
from bot.handoff.queue import RedisHandoffQueue, Risk, State
from bot.privacy.sender_ids import SenderIds
from bot.storage.inbound import RedisJournal
from tests.conftest import CHANNEL_ENV
from tests.numbers import gives, helpline, helpline_number
from tests.test_channels import post_twilio, sms

pytestmark = pytest.mark.rasa


@pytest.fixture
async def queue() -> AsyncIterator[RedisHandoffQueue]:
    """The bot's handoff queue in Redis, through a client of the test's event loop. (The bot runs in
    its own processes: the test's blocking HTTP calls and waits hold up nothing on this loop.)"""
    client = aioredis.from_url(CHANNEL_ENV["REDIS_URL"])
    try:
        yield RedisHandoffQueue(client, CHANNEL_ENV["HELPLINE_REDIS_PREFIX"] + "handoff:")
    finally:
        await client.close()


async def test_an_sms_child_reaches_the_queue_and_the_bot_steps_aside_until_they_say_stop(bot, twilio_api, queue):
    phone = "+23480" + "".join(random.choices("0123456789", k=8))
    sender = SenderIds(CHANNEL_ENV["HELPLINE_SENDER_KEY"].encode()).of("sms", phone)
    assert post_twilio(bot, "sms", sms("i want to talk to a real person please", phone)) == 200
    replies = " ".join(twilio_api.messages_to(phone, count=2))
    assert "Test desk NG" in replies and "number" in replies

    ticket = await queue.active(sender)
    assert ticket.state is State.WAITING and ticket.risk is Risk.ASKED and ticket.channel == "sms"
    assert ticket.helpline == "NG" and "i want to talk to a real person please" in ticket.last_messages
    assert phone not in ticket.to_json()  # the counsellor's side never holds the number

    for skip in ("0", "0", "0"):  # the intake's three questions, each skipped
        post_twilio(bot, "sms", sms(skip, phone))
    done = Dialogue.load().texts.get("intake_done", "en")
    deadline = time.monotonic() + 20
    while twilio_api.messages_to(phone, timeout_s=0.1)[-1] != done and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    intake = await queue.active(sender)
    assert intake.intake == {} and intake.intake_step is None
    count = len(twilio_api.messages_to(phone, timeout_s=0.1))
    post_twilio(bot, "sms", sms("/restart", phone))  # Rasa's command: here only words for the counsellor
    post_twilio(bot, "sms", sms("are you there", phone))
    await asyncio.sleep(3)
    assert len(twilio_api.messages_to(phone, timeout_s=0.1)) == count  # the bot stays quiet
    assert await queue.messages(ticket.id) == [("child", "restart"), ("child", "are you there")]

    post_twilio(bot, "sms", sms("stop", phone))
    assert twilio_api.messages_to(phone, count=count + 1)[-1] == Dialogue.load().texts.get("stopped", "en")
    closed = await queue.get(ticket.id)
    assert closed.state is State.CLOSED and closed.outcome == "child_left"


async def test_a_rest_child_gets_the_helpline_not_a_ticket_nobody_could_answer(bot, queue):
    sender = f"web-{random.getrandbits(64):016x}"
    replies = " ".join(r.get("text", "") for r in bot.say(sender, "i want to talk to a real person", {"country": "NG"}))
    assert "Test desk NG" not in replies  # the rest channel cannot carry a counsellor's messages...
    assert helpline("NG").name in replies and gives(replies, helpline_number("NG")), replies  # ...but the number
    assert await queue.active(sender) is None


async def test_a_crisis_sms_is_in_the_queue_while_its_conversation_still_waits_for_its_turn(bot, twilio_api, queue):
    """The ticket opens at the webhook: here another server (the test) holds the conversation's
    lease, so no turn can run, and the counsellor sees the child all the same. Once the lease is
    let go, the turn answers the child and finds the same ticket."""
    phone = "+23480" + "".join(random.choices("0123456789", k=8))
    sender = SenderIds(CHANNEL_ENV["HELPLINE_SENDER_KEY"].encode()).of("sms", phone)
    client = aioredis.from_url(CHANNEL_ENV["REDIS_URL"])
    try:
        journal = RedisJournal(client, CHANNEL_ENV["HELPLINE_REDIS_PREFIX"], lease_ms=60_000)
        lease = await journal.take(sender)
        assert lease is not None
        assert post_twilio(bot, "sms", sms("i want to kill myself tonight", phone)) == 200
        deadline = time.monotonic() + 5
        while (ticket := await queue.active(sender)) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert ticket is not None and ticket.risk is Risk.IMMINENT and ticket.helpline == "NG"
        assert ticket.last_messages == ("i want to kill myself tonight",)
        assert twilio_api.messages_to(phone, timeout_s=0.5) == []  # its turn has not run
        assert len(await journal.entries(lease)) == 1
        await journal.hand_back(lease)
        replies = " ".join(twilio_api.messages_to(phone, count=2))
        assert "Test desk NG" in replies
        assert [t.id for t in await queue.waiting("NG") if t.conversation == sender] == [ticket.id]
    finally:
        await client.close()
