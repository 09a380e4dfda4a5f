"""The conversation's rules (bot/dialogue.py), without Rasa: the intent is given as Rasa would give it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import pytest

from bot.conversation.dialogue import MAIN_MENU, Dialogue, Outcome, Turn, parse_choice
from tests.numbers import country as country_entry
from tests.numbers import emergency, gives, helpline, helpline_number


class Chat:
    """One child's conversation: keeps the slots between turns like Rasa's tracker does."""

    def __init__(
        self, dialogue: Dialogue, metadata: Optional[dict] = None, now: Optional[dt.datetime] = None, **slots: Any
    ) -> None:
        self.dialogue = dialogue
        self.metadata = metadata
        self.now = now
        self.slots: dict[str, Any] = {"privacy_told": "1", **slots}  # the first-contact notice: tests/test_privacy.py

    def say(self, text: str, intent: Optional[str] = None) -> Outcome:
        outcome = self.dialogue.respond(
            Turn(text=text, intent=intent, slots=self.slots, metadata=self.metadata, now=self.now)
        )
        self.slots = outcome.slots
        return outcome

    @staticmethod
    def text(outcome: Outcome) -> str:
        return "\n".join(message.text for message in outcome.messages)


def gives_helpline(outcome: Outcome, country: str) -> bool:
    """The reply names ``country``'s helpline and gives its number to call, whole."""
    text = Chat.text(outcome)
    return helpline(country).name in text and gives(text, helpline_number(country))


def test_greeting_offers_a_numbered_menu(dialogue):
    outcome = Chat(dialogue).say("hi", "greet")
    assert outcome.need == "greet" and outcome.language == "en"
    menu = outcome.messages[-1]
    assert [choice.payload for choice in menu.choices] == ["1", "2", "3", "4", "5", "6"]
    assert "1. " in menu.text and "6. " in menu.text  # works on SMS and screen readers too
    assert outcome.slots["menu"] == "main"


def test_danger_now_gives_the_countrys_emergency_number_first(dialogue):
    outcome = Chat(dialogue, metadata={"country": "KE"}).say("my dad is hitting me", "danger_now")
    assert outcome.messages[0].text == dialogue.texts.get("emergency_known", "en", emergency=emergency("KE"))
    assert gives_helpline(outcome, "KE")  # and the helpline


def test_danger_now_without_a_country_says_call_the_local_emergency_number(dialogue):
    outcome = Chat(dialogue).say("someone is following me", "danger_now")
    assert outcome.messages[0].text == dialogue.texts.get("emergency_unknown", "en")
    assert not any(ch.isdigit() for ch in Chat.text(outcome))  # no country: no number made up
    assert outcome.slots["menu"] is None or outcome.slots["menu"] == "country"


def test_self_harm_gets_helpline_and_emergency_number(dialogue):
    outcome = Chat(dialogue, metadata={"phone": "+447400123456"}).say("i want to die", "self_harm")
    assert gives_helpline(outcome, "GB")  # the country from the phone number
    assert dialogue.texts.get("emergency_known", "en", emergency=emergency("GB")) in [m.text for m in outcome.messages]


def test_the_safety_net_catches_what_the_classifier_missed(dialogue):
    outcome = Chat(dialogue, metadata={"country": "IN"}).say("honestly i just want to kms", "out_of_scope")
    assert outcome.need == "self_harm"
    assert outcome.messages[0].text == dialogue.texts.get("self_harm", "en")
    assert gives_helpline(outcome, "IN") and gives(Chat.text(outcome), emergency("IN"))


def test_the_safety_net_leaves_everyday_phrases_alone(dialogue):
    outcome = Chat(dialogue).say("this homework is killing me", "out_of_scope")
    assert outcome.need == "out_of_scope"


def test_a_crisis_beats_a_pending_menu(dialogue):
    chat = Chat(dialogue)
    chat.say("hello", "greet")
    assert chat.say("i want to kill myself", "choose_option").need == "self_harm"


def test_menu_numbers_choose(dialogue):
    chat = Chat(dialogue, metadata={"country": "DE"})
    chat.say("hallo", "greet")
    outcome = chat.say("2", "choose_option")
    assert outcome.need == "danger_now"
    assert outcome.messages[0].text == dialogue.texts.get("emergency_known", "de", emergency=emergency("DE"))


def test_a_number_out_of_range_gets_the_menu_again(dialogue):
    chat = Chat(dialogue)
    chat.say("hi", "greet")
    outcome = chat.say("9", "choose_option")
    assert outcome.slots["menu"] == "main"
    options = [dialogue.texts.get(key, "en") for key, _ in MAIN_MENU]
    assert outcome.messages[-1].text == dialogue.texts.get("menu_prompt", "en") + "\n" + "\n".join(
        f"{n}. {title}" for n, title in enumerate(options, 1)
    )
    assert [c.payload for c in outcome.messages[-1].choices] == ["1", "2", "3", "4", "5", "6"]


def test_helpline_asks_the_country_then_answers(dialogue):
    chat = Chat(dialogue)
    first = chat.say("i need help", "need_helpline")
    assert first.slots["menu"] == "country" and first.slots["resume"] == "need_helpline"
    second = chat.say("kenya", "give_country")
    assert second.slots["country"] == "KE"
    assert gives_helpline(second, "KE")
    assert second.slots["resume"] is None


def test_an_unknown_country_is_asked_again(dialogue):
    chat = Chat(dialogue)
    chat.say("help", "need_helpline")
    outcome = chat.say("narnia", "out_of_scope")
    assert outcome.messages[0].text == dialogue.texts.get("country_unknown", "en")
    assert outcome.slots["menu"] == "country"


def test_a_country_without_a_helpline_still_gets_the_emergency_number(dialogue):
    assert "YE" in dialogue.table and not dialogue.table.get("YE").helplines
    outcome = Chat(dialogue, language="en", metadata={"country": "YE"}).say("need a number", "need_helpline")
    said = [m.text for m in outcome.messages]
    assert said == [
        dialogue.texts.get("no_helpline", "en", country="Yemen"),
        dialogue.texts.get("emergency_known", "en", emergency=emergency("YE")),
    ]


def test_a_country_missing_from_the_table_gets_honesty_and_the_local_emergency_advice(dialogue):
    assert "NE" not in dialogue.table
    outcome = Chat(dialogue, language="fr", metadata={"country": "NE"}).say("aidez moi svp", "need_helpline")
    texts = [m.text for m in outcome.messages]
    assert texts == [
        dialogue.texts.get("no_helpline", "fr", country="Niger"),
        dialogue.texts.get("emergency_unknown", "fr"),
    ]


# -- which number, how, and open now (issue 3) -------------------------------------------------

NAIROBI_NOON = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
BERLIN_MORNING = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))  # a Wednesday


def test_a_child_on_sms_gets_a_number_to_call_and_is_told_it_is_free(dialogue):
    outcome = Chat(
        dialogue, language="sw", metadata={"phone": "+254712345678", "channel": "sms"}, now=NAIROBI_NOON
    ).say("nipe namba ya msaada", "need_helpline")
    first = outcome.messages[0].text
    assert dialogue.texts.get("contact_phone", "sw", number=helpline_number("KE")) in first
    assert dialogue.texts.get("helpline_free", "sw") in first and dialogue.texts.get("helpline_24_7", "sw") in first
    assert dialogue.texts.get("country_assumed", "sw", country="Kenya") in first  # from the phone number: say so
    assert len(first) <= 320


def test_a_closed_line_says_when_it_opens_in_the_childs_language_and_what_to_do_meanwhile(dialogue):
    outcome = Chat(dialogue, language="de", country="DE", now=BERLIN_MORNING).say(
        "ich brauch eine nummer", "need_helpline"
    )
    text = Chat.text(outcome)
    assert gives_helpline(outcome, "DE")
    assert dialogue.texts.get("closed_now", "de", when="14:00") in text  # Nummer gegen Kummer opens at 14:00
    # Nothing else open: the emergency number, for danger.
    assert dialogue.texts.get("emergency_known", "de", emergency=emergency("DE")) in [m.text for m in outcome.messages]


def test_an_open_line_with_hours_says_until_when(dialogue):
    afternoon = BERLIN_MORNING.replace(hour=15)
    outcome = Chat(dialogue, language="de", country="DE", now=afternoon).say("nummer bitte", "need_helpline")
    assert dialogue.texts.get("open_until", "de", when="20:00") in outcome.messages[0].text


def test_a_child_on_telegram_gets_the_open_way_first(dialogue):
    night = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    outcome = Chat(dialogue, language="en", country="NO", metadata={"channel": "telegram"}, now=night).say(
        "help", "need_helpline"
    )
    first = outcome.messages[0].text  # the chat is closed at night, the phone is open 24/7
    assert dialogue.texts.get("contact_phone", "en", number=helpline_number("NO")) in first
    assert dialogue.texts.get("helpline_24_7", "en") in first


def test_reporting_abuse_images_gives_the_national_hotline(dialogue):
    outcome = Chat(dialogue, language="en", country="GB").say("i found child abuse pics online", "report_content")
    text = Chat.text(outcome)
    hotline = country_entry("GB").hotline
    assert dialogue.texts.get("hotline", "en", name=hotline.name, url=hotline.report_url) in text
    assert gives_helpline(outcome, "GB")


def test_the_country_question_is_a_numbered_list_for_the_language(dialogue):
    chat = Chat(dialogue, language="es")
    asked = chat.say("necesito ayuda", "need_helpline")
    menu = asked.messages[-1]
    assert asked.slots["menu"] == "country" and "1. España" in menu.text and "2. México" in menu.text
    answered = chat.say("2", "choose_option")
    assert answered.slots["country"] == "MX" and gives_helpline(answered, "MX")


def test_a_guessed_country_is_confirmed_first_and_can_be_corrected(dialogue):
    chat = Chat(dialogue, language="en")
    chat.say("help", "need_helpline")
    guess = chat.say("im kenyan", "give_country")
    assert guess.slots["country"] is None and guess.slots["country_guess"] == "KE"
    assert guess.messages[-1].text.startswith(dialogue.texts.get("confirm_country", "en", country="Kenya"))
    no = chat.say("2", "choose_option")
    assert no.slots["country"] is None and no.slots["menu"] == "country"
    assert chat.say("kenyaa", "give_country").slots["country_guess"] == "KE"  # a typo: a guess too
    yes = chat.say("1", "choose_option")
    assert yes.slots["country"] == "KE" and gives_helpline(yes, "KE")


def test_the_child_can_correct_an_assumed_country(dialogue):
    chat = Chat(dialogue, language="en", metadata={"phone": "+447400123456"})
    assert gives_helpline(chat.say("i need a helpline", "need_helpline"), "GB")
    moved = chat.say("im in ireland actually", "give_country")
    assert moved.slots["country"] == "IE"
    corrected = chat.say("number please", "need_helpline")
    assert gives_helpline(corrected, "IE") and not gives(Chat.text(corrected), helpline_number("GB"))


@pytest.mark.parametrize(
    "language, country, text",
    [
        ("fr", "FR", "j'ai besoin d'aide"),
        ("ar", "EG", "محتاج رقم مساعدة"),
        ("pt", "BR", "preciso de ajuda"),
        ("es", "ES", "necesito ayuda"),
    ],
)
def test_conversations_in_several_languages_end_with_the_right_number(dialogue, language, country, text):
    chat = Chat(dialogue, language=language)
    chat.say(text, "need_helpline")
    name = dialogue.countries.name(country, dialogue.registry.languages[language].locale)
    outcome = chat.say(name, "give_country")
    assert outcome.slots["country"] == country and outcome.language == language
    assert gives_helpline(outcome, country)


def test_change_language_by_menu(dialogue):
    chat = Chat(dialogue)
    chat.say("hi", "greet")
    outcome = chat.say("change language", "change_language")
    assert outcome.slots["menu"] == "language"
    assert "Español" in outcome.messages[-1].text
    switched = chat.say("3", "choose_option")
    assert switched.slots["language"] == "es"
    assert switched.messages[0].text == dialogue.texts.get("language_set", "es")


def test_the_language_menu_fits_an_sms_and_offers_the_countrys_language_first(dialogue):
    """Thirty languages as numbered lines would not fit an SMS: the country's come first, the
    rest are reached by their name."""
    chat = Chat(dialogue, language="en", metadata={"country": "PL"})
    outcome = chat.say("change language", "change_language")
    menu = outcome.messages[-1]
    assert len(menu.choices) <= 9 and len(menu.text) <= 320
    assert menu.choices[0].title == "Polski" and "write the name of your language" in menu.text
    assert chat.say("1", "choose_option").slots["language"] == "pl"
    named = Chat(dialogue, language="en", metadata={"country": "PL"}).say("nederlands please", "change_language")
    assert named.slots["language"] == "nl"  # not in the menu, chosen by its name


def test_change_language_by_name(dialogue):
    chat = Chat(dialogue, language="en")
    outcome = chat.say("en español por favor", "change_language")
    assert outcome.slots["language"] == "es"


def test_the_language_stays_put_on_short_ambiguous_messages(dialogue):
    chat = Chat(dialogue, language="fr")
    for text in ("ok", "hi", "help", "merci", "si"):
        assert chat.say(text, "greet").language == "fr", text


def test_the_language_switches_on_an_unambiguous_script(dialogue):
    chat = Chat(dialogue, language="en")
    assert chat.say("أحتاج مساعدة", "need_helpline").language == "ar"


def test_stop_and_delete_need_a_confirmation(dialogue):
    chat = Chat(dialogue, language="en", metadata={"country": "KE"})
    chat.say("hi", "greet")
    asked = chat.say("stop", "stop_delete")
    assert asked.slots["menu"] == "confirm_stop" and len(asked.messages[-1].choices) == 2
    assert asked.messages[-1].text.startswith(dialogue.texts.get("confirm_stop", "en")) and not asked.erase
    done = chat.say("1", "choose_option")
    assert done.messages[0].text == dialogue.texts.get("deleted", "en") and done.erase  # the channel erases
    kept = Chat(dialogue, language="en")
    kept.say("delete my data", "stop_delete")
    no = kept.say("2", "choose_option")
    assert not no.erase and no.messages[0].text == dialogue.texts.get("not_stopped", "en")


def test_empty_and_emoji_only_messages_get_a_kind_reply(dialogue):
    empty = Chat(dialogue).say("", None)
    assert empty.need == "empty_message" and empty.messages[0].text == dialogue.texts.get("empty_message", "en")
    outcome = Chat(dialogue).say("😭😭", "nlu_fallback")
    assert outcome.messages[0].text == dialogue.texts.get("out_of_scope", "en")
    assert outcome.messages[-1].choices and outcome.slots["menu"] == "main"


def test_every_reply_fits_an_sms_in_every_language(dialogue):
    for lang in dialogue.registry.codes:
        for intent in (
            "greet",
            "danger_now",
            "self_harm",
            "need_helpline",
            "online_sexual_abuse",
            "cyberbullying",
            "report_content",
            "privacy_question",
            "safety_tips",
            "thanks_bye",
            "out_of_scope",
            "stop_delete",
            "change_language",
            "talk_to_human",
        ):
            outcome = Chat(dialogue, language=lang, metadata={"country": "KE"}).say("...", intent)
            assert outcome.messages, (lang, intent)
            for message in outcome.messages:
                assert 0 < len(message.text) <= 320, (lang, intent, message.text)


@pytest.mark.parametrize("text, number", [("2", 2), ("2.", 2), (" 3) ", 3), ("٢", 2), ("२", 2), ("２", 2), ("10", 10)])
def test_parse_choice(text, number):
    assert parse_choice(text) == number


@pytest.mark.parametrize("text", ["", "two", "2 please", "123", "1.5", "-1"])
def test_parse_choice_refuses_non_numbers(text):
    assert parse_choice(text) is None


def test_every_helpline_reply_fits_an_sms_for_every_country_and_language(dialogue):
    night = dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.timezone.utc)  # closed lines add when they open
    for lang in dialogue.registry.codes:
        for code in dialogue.table.codes:
            outcome = Chat(dialogue, language=lang, metadata={"country": code, "channel": "sms"}, now=night).say(
                "...", "report_content"
            )
            assert outcome.messages, (lang, code)
            for message in outcome.messages:
                assert 0 < len(message.text) <= 320, (lang, code, message.text)
