"""Whole conversations through the real bot: trained model, action server and rest channel.

Each test is a child writing to http://.../webhooks/rest/webhook as a web chat would.
"""

from __future__ import annotations

import json
import uuid

import pytest

pytestmark = pytest.mark.rasa


def new_sender() -> str:
    return uuid.uuid4().hex


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def test_english_greeting_then_menu_choice(bot):
    sender = new_sender()
    replies = bot.say(sender, "heyy", {"country": "GB"})
    assert replies and replies[-1].get("buttons"), replies
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["1", "2", "3", "4", "5", "6"]
    danger = bot.say(sender, "2")
    assert "999" in danger[0]["text"]


def test_spanish_child_gets_the_helpline_of_spain(bot):
    replies = bot.say(new_sender(), "ayuda porfa necesito hablar con alguien", {"country": "ES"})
    assert "900 20 20 10" in texts(replies)  # ANAR, free and 24/7
    assert "ayuda" in texts(replies).lower() or "puedes" in texts(replies).lower()


def test_arabic_script_child_in_danger_gets_the_emergency_number(bot):
    replies = bot.say(new_sender(), "ابي يضربني الان ساعدوني", {"country": "EG"})
    assert "122" in replies[0]["text"]
    assert any("\u0600" <= ch <= "\u06ff" for ch in texts(replies)), "the reply should be in Arabic"


def test_chinese_child_with_self_harm_thoughts(bot):
    replies = bot.say(new_sender(), "我不想活了", {"country": "TW"})
    assert "113" in texts(replies) and "110" in texts(replies)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in texts(replies))


def test_swahili_child_asks_for_the_helpline_and_names_the_country(bot):
    sender = new_sender()
    first = bot.say(sender, "nataka namba ya helpline tafadhali")
    assert first, "the bot must answer"
    second = bot.say(sender, "niko kenya")
    assert "116" in texts(second)


def test_hindi_and_hinglish(bot):
    replies = bot.say(new_sender(), "mujhe koi help chahiye yaar", {"country": "IN"})
    assert "1098" in texts(replies)
    assert bot.say(new_sender(), "मैं मरना चाहता हूँ", {"country": "IN"})


def test_the_crisis_net_answers_even_when_phrased_oddly(bot):
    replies = bot.say(new_sender(), "blah blah school stuff anyway i think i want to kms tonight", {"country": "AU"})
    assert "000" in texts(replies) and "1800 55 1800" in texts(replies)


def test_a_typed_restart_is_just_text(bot):
    sender = new_sender()
    bot.say(sender, "hi", {"country": "KE"})
    replies = bot.say(sender, "/restart")
    assert replies, "a typed /restart must get a reply, not silence"
    crisis = bot.say(new_sender(), "/self_harm")
    assert crisis  # treated as the words "self_harm", not as a forced intent with confidence 1


def test_language_switch_on_request_and_stays(bot):
    sender = new_sender()
    bot.say(sender, "hello", {"country": "GB"})
    menu = bot.say(sender, "change language")
    assert "Français" in texts(menu)
    switched = bot.say(sender, "2")
    assert "français" in texts(switched).lower()
    again = bot.say(sender, "ok")
    assert "English" not in texts(again) or "Français" in texts(again)


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "😭😭😭",
        "a" * 10_000,
        "hi\x00\x01\x02 there\u202e",
        "hello مرحبا привет 你好 नमस्ते",
        "/",
        "/restart",
        '/self_harm{"x": 1}',
        None,
    ],
)
def test_bad_input_gets_a_kind_reply(bot, message):
    replies = bot.say(new_sender(), message)
    assert replies and all(reply.get("text") for reply in replies), replies


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{broken",
        b"\xff\xfe\xfa",
        b"[]",
        json.dumps({"message": "hi"}).encode(),
        json.dumps({"sender": "x", "message": 7}).encode(),
        json.dumps({"sender": "x", "message": "hi", "metadata": {"country": "XX"}}).encode(),
    ],
)
def test_malformed_requests_get_400_with_a_reason(bot, raw):
    status, body = bot.post(raw)
    assert status == 400 and body.get("error"), (status, body)


# Three children, three languages, three ways of telling us where they are; each ends with the number.
def test_spanish_child_picks_the_country_from_the_numbered_list(bot):
    sender = new_sender()
    asked = bot.say(sender, "necesito ayuda porfa")
    assert "1. España" in texts(asked) and "2. México" in texts(asked)
    answered = bot.say(sender, "2")
    assert "800-911-2000" in texts(answered)


def test_french_child_names_the_country(bot):
    sender = new_sender()
    bot.say(sender, "jai besoin dun numero pour parler a quelquun")
    answered = bot.say(sender, "je suis en france")
    assert "119" in texts(answered)


def test_swahili_child_on_sms_is_routed_by_phone_number(bot):
    replies = bot.say(new_sender(), "nataka msaada tafadhali", {"phone": "+255621234567", "channel": "sms"})
    assert "116" in texts(replies) and "Tanzania" in texts(replies)  # and says which country it assumed
