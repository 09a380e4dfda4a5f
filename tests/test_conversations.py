"""Whole conversations through the real bot: trained model, action server and rest channel.

Each test is a child writing to http://.../webhooks/rest/webhook as a web chat would.
"""

from __future__ import annotations

import json
import uuid

import pytest

from bot.conversation.dialogue import MAIN_MENU, Dialogue
from tests.numbers import emergency, gives, helpline, helpline_number

pytestmark = pytest.mark.rasa


def new_sender() -> str:
    return uuid.uuid4().hex


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def said(replies: list[dict]) -> list[str]:
    return [reply.get("text", "") for reply in replies]


def gives_helpline(replies: list[dict], country: str) -> bool:
    """The reply names ``country``'s helpline and gives its number to call."""
    text = texts(replies)
    return helpline(country).name in text and gives(text, helpline_number(country))


def country_name(dialogue: Dialogue, code: str, language: str) -> str:
    return dialogue.countries.name(code, dialogue.registry.languages[language].locale)


def test_english_greeting_then_menu_choice(bot, dialogue):
    sender = new_sender()
    replies = bot.say(sender, "heyy", {"country": "GB"})
    assert replies and replies[-1].get("buttons"), replies
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["1", "2", "3", "4", "5", "6"]
    assert [b["title"] for b in replies[-1]["buttons"]] == [dialogue.texts.get(key, "en") for key, _ in MAIN_MENU]
    danger = bot.say(sender, "2")  # "I'm in danger right now": the emergency number first, then what to do
    assert said(danger)[:2] == [
        dialogue.texts.get("emergency_known", "en", emergency=emergency("GB")),
        dialogue.texts.get("danger_now", "en"),
    ]


def test_spanish_child_gets_the_helpline_of_spain(bot, dialogue):
    replies = bot.say(new_sender(), "ayuda porfa necesito hablar con alguien", {"country": "ES"})
    assert gives_helpline(replies, "ES"), replies  # ANAR, free and 24/7
    assert said(replies)[0] == dialogue.texts.get("privacy_notice", "es", days=30)  # in Spanish
    assert dialogue.texts.get("emergency_known", "es", emergency=emergency("ES")) in said(replies)


def test_arabic_script_child_in_danger_gets_the_emergency_number(bot, dialogue):
    replies = bot.say(new_sender(), "ابي يضربني الان ساعدوني", {"country": "EG"})
    assert said(replies)[0] == dialogue.texts.get("emergency_known", "ar", emergency=emergency("EG"))  # in Arabic


def test_chinese_child_with_self_harm_thoughts(bot, dialogue):
    replies = bot.say(new_sender(), "我不想活了", {"country": "TW"})
    assert said(replies)[0] == dialogue.texts.get("self_harm", "zh")
    assert gives_helpline(replies, "TW"), replies
    assert dialogue.texts.get("emergency_known", "zh", emergency=emergency("TW")) in said(replies)


def test_swahili_child_asks_for_the_helpline_and_names_the_country(bot, dialogue):
    sender = new_sender()
    first = bot.say(sender, "nataka namba ya helpline tafadhali")
    assert said(first)[-1].startswith(dialogue.texts.get("ask_country", "sw")), first  # asked where, in Swahili
    second = bot.say(sender, "niko kenya")
    assert said(second)[0] == dialogue.texts.get("country_set", "sw", country=country_name(dialogue, "KE", "sw"))
    assert gives_helpline(second, "KE"), second


def test_hindi_and_hinglish(bot, dialogue):
    replies = bot.say(new_sender(), "mujhe koi help chahiye yaar", {"country": "IN"})
    assert said(replies)[0] == dialogue.texts.get("privacy_notice", "hi", days=30)  # Hinglish is answered in Hindi
    assert gives_helpline(replies, "IN"), replies
    crisis = bot.say(new_sender(), "मैं मरना चाहता हूँ", {"country": "IN"})
    assert said(crisis)[0] == dialogue.texts.get("self_harm", "hi")
    assert gives_helpline(crisis, "IN") and gives(texts(crisis), emergency("IN")), crisis


def test_the_crisis_net_answers_even_when_phrased_oddly(bot, dialogue):
    replies = bot.say(new_sender(), "blah blah school stuff anyway i think i want to kms tonight", {"country": "AU"})
    assert said(replies)[0] == dialogue.texts.get("self_harm", "en")
    assert gives_helpline(replies, "AU") and gives(texts(replies), emergency("AU")), replies


def test_a_typed_restart_is_just_text(bot, dialogue):
    sender = new_sender()
    bot.say(sender, "hi", {"country": "KE"})
    replies = bot.say(sender, "/restart")
    assert replies, "a typed /restart must get a reply, not silence"
    # The same conversation goes on: no first-contact notice again (a restart wipes every slot), and
    # still in the language it was in.
    assert dialogue.texts.get("privacy_notice", "sw", days=30) not in said(replies), replies
    assert said(replies)[-1].startswith(dialogue.texts.get("menu_prompt", "sw") + "\n1. "), replies
    # Treated as the words "self_harm", as the classifiers read them (thirty languages' data now read
    # them as the words of a child who self-harms), not as a forced intent: the same answer as the
    # words without the slash. "/greet" is the words "greet", not a greeting with confidence 1.
    crisis = bot.say(new_sender(), "/self_harm")
    assert said(crisis) == said(bot.say(new_sender(), "self_harm")), crisis
    assert said(bot.say(new_sender(), "/greet")) == said(bot.say(new_sender(), "greet"))


def test_language_switch_on_request_and_stays(bot, dialogue):
    sender = new_sender()
    bot.say(sender, "hello", {"country": "GB"})
    menu = bot.say(sender, "change language")
    assert "2. Français" in texts(menu)
    switched = bot.say(sender, "2")
    assert said(switched) == [dialogue.texts.get("language_set", "fr")]
    again = bot.say(sender, "ok")  # a short word: no reason to switch back
    assert said(again) == [dialogue.texts.get("thanks_bye", "fr")], again


EMPTY = ("", "   ", "/", None)


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
def test_bad_input_gets_a_kind_reply(bot, dialogue, message):
    replies = bot.say(new_sender(), message)
    assert replies and all(reply.get("text") for reply in replies), replies
    # A first message without a country: in whatever language the bot answers, the advice to call the
    # local emergency number; and "I didn't see any words" where there were none.
    languages = [
        lang
        for lang in dialogue.registry.recognised_codes
        if dialogue.texts.get("emergency_unknown", lang) in said(replies)
    ]
    assert languages, replies
    if message in EMPTY:
        assert dialogue.texts.get("empty_message", languages[0]) in said(replies), replies


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
def test_spanish_child_picks_the_country_from_the_numbered_list(bot, dialogue):
    sender = new_sender()
    asked = bot.say(sender, "necesito ayuda porfa")
    assert "1. España" in texts(asked) and "2. México" in texts(asked)
    answered = bot.say(sender, "2")
    assert said(answered)[0] == dialogue.texts.get("country_set", "es", country=country_name(dialogue, "MX", "es"))
    assert gives_helpline(answered, "MX"), answered


def test_french_child_names_the_country(bot, dialogue):
    sender = new_sender()
    bot.say(sender, "jai besoin dun numero pour parler a quelquun")
    answered = bot.say(sender, "je suis en france")
    assert said(answered)[0] == dialogue.texts.get("country_set", "fr", country=country_name(dialogue, "FR", "fr"))
    assert gives_helpline(answered, "FR"), answered


def test_swahili_child_on_sms_is_routed_by_phone_number(bot, dialogue):
    replies = bot.say(new_sender(), "nataka msaada tafadhali", {"phone": "+255621234567", "channel": "sms"})
    assert gives_helpline(replies, "TZ"), replies
    assumed = dialogue.texts.get("country_assumed", "sw", country=country_name(dialogue, "TZ", "sw"))
    assert assumed in texts(replies)  # and says which country it assumed
