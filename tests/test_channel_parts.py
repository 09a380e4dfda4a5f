"""The channels' pieces without a server: ordering, time limits, fallbacks, secrets, configuration."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from dataclasses import replace
from typing import Any, Optional, Sequence

import pytest
from rasa.core.channels.channel import UserMessage

from bot.conversation.dialogue import BotMessage, Dialogue
from bot.delivery.attempt import Attempt
from bot.privacy.sender_ids import MissingSecret, SenderIds
from bot.routing.hints import deep_link_hints
from bot.storage.guard import RedisDown
from bot.storage.inbound import Lease
from bot.wiring.faults import Faults
from bot.wiring.services import Services
from bot.wiring.settings import Settings
from channels.active_credentials import active
from channels.safe_turn import CountingOutput, SenderQueues, answer
from channels.telegram import TelegramChannel
from channels.twilio import SmsChannel
from tests.conftest import rebuilt
from tests.numbers import emergency, gives, helpline, helpline_number


class Recorder(CountingOutput):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    @classmethod
    def name(cls) -> str:
        return "recorder"

    async def deliver(self, recipient_id: str, text: str, buttons: Sequence[dict[str, Any]]) -> bool:
        self.texts.append(text)
        return True


class SmsRecorder:
    """The outbox's transport for SMS, noting the texts it was given (bot.delivery.transports)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send(self, conversation: str, text: str, buttons: Sequence[tuple[str, str]]) -> Attempt:
        self.texts.append(text)
        return Attempt.sent()


async def run_turn(dialogue: Dialogue, rasa, timeout_s: float = 0.5, faults: Optional[Faults] = None) -> list[str]:
    output = Recorder()
    metadata = {"country": "KE", "channel": "sms"}
    message = UserMessage("nisaidie", output, "sms-abc", input_channel="sms", metadata=metadata)
    await answer(rasa, message, output, lambda: dialogue.fallback("nisaidie", metadata), timeout_s, faults=faults)
    return output.texts


async def test_rasas_own_reply_goes_through(dialogue):
    async def rasa(message: UserMessage) -> None:
        await message.output_channel.send_text_message(message.sender_id, "from rasa")

    assert await run_turn(dialogue, rasa) == ["from rasa"]


@pytest.mark.parametrize("slow", [False, True])
async def test_an_erasure_asked_for_happens_after_the_turn_even_if_rasa_is_then_too_slow(slow):
    from bot.privacy.erasure import ERASE

    erased: list[str] = []
    output = Recorder()

    async def rasa(message: UserMessage) -> None:
        await message.output_channel.send_custom_json(message.sender_id, ERASE)
        await message.output_channel.send_text_message(message.sender_id, "Done. I deleted our chat.")
        if slow:
            await asyncio.sleep(5)  # e.g. saving the conversation, past the channel's limit

    async def erase(sender: str) -> None:
        erased.append(sender)

    message = UserMessage("1", output, "sms-abc", input_channel="sms")
    await answer(rasa, message, output, lambda: [BotMessage("fallback")], 0.5, erase=erase)
    assert erased == ["sms-abc"] and output.texts == ["Done. I deleted our chat."]


@pytest.mark.parametrize(
    "failure, counted",
    [
        ("raises", "turn_failed"),
        ("store down", "store_unavailable"),
        ("too slow", "turn_slow"),
        ("silent", "turn_silent"),
    ],
)
async def test_a_failed_turn_still_gives_the_helpline_and_emergency_number_and_is_counted(dialogue, failure, counted):
    async def rasa(message: UserMessage) -> None:
        if failure == "raises":
            raise ConnectionError("the platform's API is down")  # an OSError, but not Redis's
        if failure == "store down":
            raise RedisDown("the tracker store")
        if failure == "too slow":
            await asyncio.sleep(5)

    faults = Faults()
    texts = await run_turn(dialogue, rasa, faults=faults)
    assert faults.counts() == {counted: 1}
    joined = " ".join(texts)
    assert texts[0] == dialogue.texts.get("fallback_intro", "sw")  # Kenya's first language, from the text
    assert helpline("KE").name in joined and gives(joined, helpline_number("KE")), texts
    assert texts[-1] == dialogue.texts.get("emergency_known", "sw", emergency=emergency("KE"))


async def test_one_senders_turns_run_in_order_and_others_do_not_wait():
    finished: list[str] = []
    queues = SenderQueues()

    def turn(name: str, delay: float):
        async def work() -> None:
            await asyncio.sleep(delay)
            finished.append(name)

        return work

    for index, delay in enumerate([0.05, 0.01, 0.03, 0.0, 0.02]):
        queues.submit("child-a", turn(f"a{index}", delay))
    queues.submit("child-b", turn("b0", 0.0))
    await queues.drain()
    assert not queues._locks and not queues._pending  # nothing kept once a sender is done
    assert [name for name in finished if name.startswith("a")] == ["a0", "a1", "a2", "a3", "a4"]
    assert finished.index("b0") < finished.index("a0")  # another child is not held up


def test_sender_ids_are_keyed_hashes():
    ids = SenderIds(b"k" * 32)
    first = ids.of("sms", "+254712345678")
    assert first == ids.of("sms", "+254712345678") and first.startswith("sms-")
    assert "254712345678" not in first
    assert first != ids.of("whatsapp", "+254712345678") != SenderIds(b"j" * 32).of("sms", "+254712345678")
    with pytest.raises(MissingSecret, match="HELPLINE_SENDER_KEY"):
        SenderIds.from_setting("")
    with pytest.raises(MissingSecret, match="HELPLINE_SENDER_KEY"):
        SenderIds.from_setting("short")


def test_only_a_bot_that_keeps_nothing_may_make_up_its_own_key():
    made_up = SenderIds.from_setting("", in_memory=True)
    assert made_up.of("web", "t") == made_up.of("web", "t") != SenderIds.from_setting("", in_memory=True).of("web", "t")
    with pytest.raises(MissingSecret, match="HELPLINE_SENDER_KEY"):  # a key that is set must be a good one
        SenderIds.from_setting("short", in_memory=True)


@pytest.fixture
def sender_key(monkeypatch):
    monkeypatch.setenv("HELPLINE_SENDER_KEY", "x" * 40)
    monkeypatch.delenv("REDIS_URL", raising=False)


@pytest.mark.parametrize(
    "credentials, variable",
    [
        ({"token": None, "webhook_secret": "s" * 20}, "TELEGRAM_TOKEN"),
        ({"token": "not-a-token", "webhook_secret": "s" * 20}, "TELEGRAM_TOKEN"),
        ({"token": "123456:" + "a" * 35, "webhook_secret": "short"}, "TELEGRAM_WEBHOOK_SECRET"),
    ],
)
def test_a_missing_or_malformed_telegram_secret_names_the_variable(sender_key, credentials, variable):
    with pytest.raises(MissingSecret, match=variable):
        TelegramChannel.from_credentials(credentials)


@pytest.mark.parametrize(
    "change, variable",
    [
        ({"account_sid": "AC123"}, "TWILIO_ACCOUNT_SID"),
        ({"auth_token": ""}, "TWILIO_AUTH_TOKEN"),
        ({"from": "0712345678"}, "TWILIO_SMS_FROM"),
        ({"public_url": "bot.example.org"}, "PUBLIC_URL"),
    ],
)
def test_a_missing_or_malformed_twilio_setting_names_the_variable(sender_key, change, variable):
    good = {
        "account_sid": "AC" + "0" * 32,
        "auth_token": "a" * 32,
        "from": "+15005550006",
        "public_url": "https://bot.example.org",
    }
    assert SmsChannel.from_credentials(good).name() == "sms"
    with pytest.raises(MissingSecret, match=variable):
        SmsChannel.from_credentials({**good, **change})


def test_only_configured_channels_start():
    credentials = {
        "channels.rest.RestChannel": None,
        "channels.telegram.TelegramChannel": {
            "token": "${TELEGRAM_TOKEN}",
            "webhook_secret": "${TELEGRAM_WEBHOOK_SECRET}",
        },
        "channels.twilio.SmsChannel": {"auth_token": "${TWILIO_AUTH_TOKEN}", "from": "${TWILIO_SMS_FROM}"},
        "channels.twilio.WhatsAppChannel": {"auth_token": "${TWILIO_AUTH_TOKEN}", "from": "${TWILIO_WHATSAPP_FROM}"},
    }
    kept, off = active(credentials, {})
    assert list(kept) == ["channels.rest.RestChannel"] and len(off) == 3
    kept, _ = active(credentials, {"TWILIO_SMS_FROM": "+1", "TWILIO_AUTH_TOKEN": "t"})
    assert list(kept) == [
        "channels.rest.RestChannel",
        "channels.twilio.SmsChannel",
    ]  # the shared token alone starts nothing else
    kept, _ = active(credentials, {"TELEGRAM_TOKEN": "t"})  # half configured: kept, so Rasa names the missing one
    assert "channels.telegram.TelegramChannel" in kept


def test_deep_links_carry_country_and_language():
    codes = ["en", "sw", "fr"]
    assert deep_link_hints("KE_sw", codes) == {"country": "KE", "language": "sw"}
    assert deep_link_hints("fr-SN", codes) == {"language": "fr", "country": "SN"}
    assert deep_link_hints("XX_zz", codes) == {} and deep_link_hints("", codes) == {}


def test_commands_reach_their_needs_and_the_fallback_knows_no_country(dialogue):
    from bot.conversation.dialogue import Turn

    outcome = dialogue.respond(
        Turn(
            text="",
            intent=None,
            slots={"language": "en", "privacy_told": "1"},
            metadata={"command": "helpline", "country": "GB"},
        )
    )
    first = outcome.messages[0].text
    assert outcome.need == "need_helpline" and helpline("GB").name in first and gives(first, helpline_number("GB"))
    texts = [m.text for m in dialogue.fallback("help", None, now=dt.datetime(2026, 11, 29, tzinfo=dt.timezone.utc))]
    assert texts == [dialogue.texts.get("fallback_intro", "en"), dialogue.texts.get("emergency_unknown", "en")]


async def test_a_server_initiated_telegram_message_finds_the_chat_by_the_hashed_id(dialogue):
    from telegram import Bot

    from channels.services import ChannelServices
    from channels.telegram import TelegramOutput
    from scripts.fake_apis import TELEGRAM_TOKEN, FakeTelegram

    api = FakeTelegram()
    ids = SenderIds(b"k" * 32)
    services = ChannelServices(in_memory(dialogue, ids), SenderQueues())
    sender = ids.of("telegram", "4242")

    try:
        bot = Bot(TELEGRAM_TOKEN, base_url=f"{api.url}/bot")
        output = TelegramOutput(bot, services)  # as get_output_channel() makes it: no chat id known
        await output.send_text_message(sender, "not sent: nobody known")
        assert output.sent == 0
        await services.stores.addresses.remember(sender, "4242", 60)
        await output.send_text_with_buttons(sender, "a counsellor answers", [{"title": "Yes", "payload": "1"}])
        sent = api.messages_to(4242)  # sent already: the fake API has it, no waiting
        assert [m["text"] for m in sent] == ["a counsellor answers"]
        assert sent[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "1"
    finally:
        api.close()


def in_memory(dialogue: Dialogue, ids: SenderIds) -> Services:
    """A process's services without Redis, with this dialogue and these sender ids."""
    core = Services(Settings.from_environ({}))
    core.dialogue, core.desks, core.sender_ids = dialogue, dialogue.desks, ids
    return core


async def test_a_child_waiting_too_long_gets_the_number_and_a_choice(dialogue):
    from bot.handoff.desks import Desk, Desks
    from bot.handoff.queue import Risk, Ticket
    from channels.services import ChannelServices

    dialogue = rebuilt(dialogue, desks=Desks({"NG": Desk("NG", "Test desk NG", 5)}))
    services = ChannelServices(in_memory(dialogue, SenderIds(b"k" * 32)), SenderQueues())
    sent = SmsRecorder()
    services.sender.transports["sms"] = sent  # the notices go through the outbox, as in the server
    sending = asyncio.ensure_future(services.sender.run())
    queue = services.relay.queue
    made = replace(Ticket.new("NG", "sms-x", "sms", "NG", "en", Risk.IMMINENT, "self_harm"), told_at=time.time())
    await queue.open(made)
    relay = services.relay
    assert await relay.tell_waiting(now=made.created_at + 4 * 60) == 0  # within the desk's 5 minutes
    assert await relay.tell_waiting(now=made.created_at + 6 * 60) == 1
    assert await relay.tell_waiting(now=made.created_at + 9 * 60) == 0  # told once only
    choice = "1. Keep waiting\n2. Talk to the bot instead"
    for _ in range(100):
        if choice in sent.texts:
            break
        await asyncio.sleep(0.05)
    await services.sender.stop(1)
    await sending
    assert sent.texts[0] == dialogue.texts.get("handoff_overdue", "en", helpline="Test desk NG")
    emergency = dialogue.table.get("NG").emergency[0].number.dial
    assert dialogue.texts.get("emergency_known", "en", emergency=emergency) in sent.texts
    assert sent.texts[-1] == choice
    assert await services.counsellor_has("sms-x", "1") == [
        BotMessage(dialogue.texts.get("handoff_still_waiting", "en"))
    ]
    assert await services.counsellor_has("sms-x", "2") == [BotMessage(dialogue.texts.get("handoff_left", "en"))]
    assert await services.counsellor_has("sms-x", "hello again") is None  # the bot answers again


async def test_a_slow_turn_gets_the_fallback_and_still_ends_before_the_childs_next_message():
    """Cancelling a slow turn would not stop the action server; the next message waits for it."""
    happened: list[str] = []

    async def rasa(message: UserMessage) -> None:
        if message.text == "first":
            await asyncio.sleep(1.5)  # past the 0.5 s limit
        happened.append(message.text)
        await message.output_channel.send_text_message(message.sender_id, f"answer to {message.text}")

    queues, output = SenderQueues(), Recorder()
    for text in ("first", "second"):
        message = UserMessage(text, output, "sms-abc", input_channel="sms")
        queues.submit("sms-abc", lambda m=message: answer(rasa, m, output, lambda: [BotMessage("fallback")], 0.5))
    await queues.drain()
    assert happened == ["first", "second"]
    assert output.texts == ["fallback", "answer to first", "answer to second"]


def test_recent_hints_keep_the_latest_children_only():
    from bot.routing.hints import RecentHints

    hints = RecentHints(size=2)
    hints.note("a", "KE", "sw")
    hints.note("b", "FR", None)
    hints.note("a", "KE", "en")  # a again: now the latest
    hints.note("c", None, "de")
    hints.note("d", None, None)  # nothing known: nothing kept
    assert hints.completed("b", {}) == {}  # the oldest went first
    assert hints.completed("a", {}) == {"country": "KE", "language": "en"}
    assert hints.completed("c", {"phone": "+33612345678"}) == {"phone": "+33612345678", "language": "de"}
    assert hints.completed("d", {}) == {}


async def test_the_fail_safe_reply_gives_a_known_childs_numbers_in_their_language_until_they_erase(dialogue):
    from channels.services import ChannelServices

    ids = SenderIds(b"k" * 32)
    services = ChannelServices(in_memory(dialogue, ids), SenderQueues())
    sender = ids.of("telegram", "4343")
    telegram = {"channel": "telegram", "language": "en"}  # what a Telegram message says: no country
    unknown = [m.text for m in services.fallback(sender, "help", telegram)]
    assert dialogue.texts.get("emergency_unknown", "en") in unknown
    services.core.recent_hints.note(sender, "KE", "sw")
    known = "\n".join(m.text for m in services.fallback(sender, "help", telegram))
    assert known.startswith(dialogue.texts.get("fallback_intro", "sw"))
    assert gives(known, helpline_number("KE")) and gives(known, emergency("KE"))
    await services.erase(sender)
    assert [m.text for m in services.fallback(sender, "help", telegram)] == unknown


async def test_a_stopping_server_says_so_and_leaves_new_messages_to_others(dialogue):
    from channels.services import ChannelServices

    services = ChannelServices(in_memory(dialogue, SenderIds(b"k" * 32)), SenderQueues())
    answered: list[dict[str, Any]] = []

    async def handle(payload: dict[str, Any]) -> None:
        answered.append(payload)

    services.worker.handlers["sms"] = handle
    services.start_delivery()
    assert services.health() == {"status": "ok", "redis": "none", "faults": {}}
    await services.stop()
    assert services.health()["status"] == "stopping"
    assert await services.core.journal.record("sms-1", "sms:sms-1:SM1", 60, {"channel": "sms"})
    services.accept("sms-1")  # acknowledged, kept for another server: not started here
    await asyncio.sleep(0.05)
    assert answered == [] and len(await services.core.journal.entries(Lease("sms-1", "other"))) == 1


def test_the_journal_keeps_a_telegram_update_without_the_childs_names():
    from telegram import Bot, Update

    from channels.telegram import _without_names

    person = {"id": 77, "is_bot": False, "first_name": "Amina", "last_name": "K", "username": "amina_k"}
    payload = {
        "update_id": 1,
        "message": {
            "message_id": 5,
            "date": 0,
            "chat": {"id": 77, "type": "private", "first_name": "Amina", "username": "amina_k"},
            "from": {**person, "language_code": "sw"},
            "text": "nisaidie",
        },
    }
    kept = _without_names(payload)
    assert "Amina" not in json.dumps(kept) and "amina_k" not in json.dumps(kept) and '"K"' not in json.dumps(kept)
    update = Update.de_json(kept, Bot("123456789:TESTtokenTESTtokenTESTtokenTEST12345"))
    message = update.message
    assert (message.chat.id, message.text, message.from_user.language_code) == (77, "nisaidie", "sw")
