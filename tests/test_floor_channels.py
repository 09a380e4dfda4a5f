"""The floor through every channel of the running bot: generated text (hypothesis), each the first
message of a new conversation, so each reply must carry the helpline and the emergency number.

Kenyan senders (phone +2547..., or the country hint): Kenya's helpline and emergency number, as the
routing table has them, each given whole. Telegram gives no country: the emergency advice and the
question where the child is.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.conversation.dialogue import Dialogue
from bot.language.detection import LanguageRegistry
from scripts.local_bot import http
from tests.numbers import emergency, gives, helpline_number
from tests.test_channels import message, new_chat, new_phone, post_telegram, post_twilio, sms, update_id

pytestmark = pytest.mark.rasa

HELPLINE, EMERGENCY = helpline_number("KE"), emergency("KE")  # from the routing table
TEXTS = Dialogue.load().texts
LANGUAGES = LanguageRegistry().codes
# Children's text and worse: any script, emoji, control characters, lone surrogates excluded (not UTF-8).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=600) | st.sampled_from(
    [
        "",
        "   ",
        "😭😭😭",
        "?",
        "a" * 10_000,
        "\x00\x01\x02",
        "/restart",
        "/self_harm",
        "ok",
        "hi",
        "1",
        "\ufffd\ufffd",
        "Ã©a va pas Ã§a",
        "\x89PNG\r\n\x1a\n\x00\x00\rIHDR",
    ]
)  # wrongly decoded text, a binary file
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def has_both(said: str) -> bool:
    """The helpline's and the emergency number, each given whole (not as part of a longer number)."""
    return gives(said, HELPLINE) and gives(said, EMERGENCY)


def without_a_country(said: str) -> bool:
    """In one of the bot's languages: the advice to call the local emergency number, and the question
    where the child is (alone, or opening the numbered list of countries)."""
    return any(
        TEXTS.get("emergency_unknown", lang) in said
        and (TEXTS.get("floor_ask_country", lang) in said or TEXTS.get("ask_country", lang) in said)
        for lang in LANGUAGES
    )


def until(said: Callable[[], str], done: Callable[[str], bool], timeout_s: float = 15) -> str:
    """What the child has been sent, once ``done`` holds of it (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    text = said()
    while not done(text) and time.monotonic() < deadline:
        time.sleep(0.1)
        text = said()
    return text


@SETTINGS
@given(text=TEXT)
def test_rest(bot, text):
    status, body = http(
        "POST",
        bot.webhook("rest"),
        json.dumps(
            {"sender": f"floor-{secrets.token_hex(8)}", "message": text, "metadata": {"country": "KE"}}
        ).encode(),
    )
    said = " ".join(m.get("text", "") for m in json.loads(body))
    assert status == 200 and has_both(said), said


@SETTINGS
@given(text=TEXT)
def test_web_chat(bot, text):
    headers = {"Authorization": f"Bearer {secrets.token_urlsafe(32)}", "Content-Type": "application/json"}
    status, body = http(
        "POST", bot.webhook("web"), json.dumps({"message": text, "metadata": {"country": "KE"}}).encode(), headers
    )
    said = " ".join(m["text"] for m in json.loads(body)["messages"])
    assert status == 200 and has_both(said), said


@SETTINGS
@given(text=TEXT)
def test_sms(bot, twilio_api, text):
    phone = new_phone("+2547")
    assert post_twilio(bot, "sms", sms(text, phone)) == 200
    said = until(lambda: " ".join(twilio_api.messages_to(phone, count=1)), has_both)
    assert has_both(said), said


@SETTINGS
@given(text=TEXT, picture=st.booleans())
def test_whatsapp(bot, twilio_api, text, picture):
    phone = new_phone("+2547")
    media = (
        {"NumMedia": "1", "MediaUrl0": "https://api.twilio.example/media/1", "MediaContentType0": "audio/ogg"}
        if picture
        else {}
    )
    assert post_twilio(bot, "whatsapp", sms(text, f"whatsapp:{phone}", to="whatsapp:+14155238886", **media)) == 200
    said = until(lambda: " ".join(twilio_api.messages_to(f"whatsapp:{phone}", count=1)), has_both)
    assert has_both(said), said


@SETTINGS
@given(text=TEXT.filter(lambda t: t.strip()))
def test_telegram(bot, telegram_api, text):
    chat = new_chat()
    assert post_telegram(bot, {"update_id": update_id(), "message": message(chat, text=text)}) == 200
    said = until(lambda: " ".join(m["text"] for m in telegram_api.messages_to(chat, count=1)), without_a_country)
    assert without_a_country(said), said
