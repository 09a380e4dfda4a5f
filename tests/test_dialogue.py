"""The conversation's rules (bot/dialogue.py), without Rasa: the intent is given as Rasa would give it."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from bot.dialogue import Dialogue, Outcome, Turn, parse_choice


@pytest.fixture(scope="module")
def dialogue() -> Dialogue:
    return Dialogue.load()


class Chat:
    """One child's conversation: keeps the slots between turns like Rasa's tracker does."""

    def __init__(self, dialogue: Dialogue, metadata: Optional[dict] = None, **slots: Any) -> None:
        self.dialogue = dialogue
        self.metadata = metadata
        self.slots: dict[str, Any] = dict(slots)

    def say(self, text: str, intent: Optional[str] = None) -> Outcome:
        outcome = self.dialogue.respond(Turn(text=text, intent=intent, slots=self.slots, metadata=self.metadata))
        self.slots = outcome.slots
        return outcome

    @staticmethod
    def text(outcome: Outcome) -> str:
        return "\n".join(message.text for message in outcome.messages)


def test_greeting_offers_a_numbered_menu(dialogue):
    outcome = Chat(dialogue).say("hi", "greet")
    assert outcome.need == "greet" and outcome.language == "en"
    menu = outcome.messages[-1]
    assert [choice.payload for choice in menu.choices] == ["1", "2", "3", "4", "5"]
    assert "1. " in menu.text and "5. " in menu.text  # works on SMS and screen readers too
    assert outcome.slots["menu"] == "main"


def test_danger_now_gives_the_countrys_emergency_number_first(dialogue):
    outcome = Chat(dialogue, metadata={"country": "KE"}).say("my dad is hitting me", "danger_now")
    assert "999" in outcome.messages[0].text
    assert "116" in Chat.text(outcome)  # and the helpline


def test_danger_now_without_a_country_says_call_the_local_emergency_number(dialogue):
    outcome = Chat(dialogue).say("someone is following me", "danger_now")
    assert outcome.messages[0].text == dialogue.texts.get("emergency_unknown", "en")
    assert outcome.slots["menu"] is None or outcome.slots["menu"] == "country"


def test_self_harm_gets_helpline_and_emergency_number(dialogue):
    outcome = Chat(dialogue, metadata={"phone": "+447400123456"}).say("i want to die", "self_harm")
    text = Chat.text(outcome)
    assert "0800 1111" in text and "999" in text


def test_the_safety_net_catches_what_the_classifier_missed(dialogue):
    outcome = Chat(dialogue, metadata={"country": "IN"}).say("honestly i just want to kms", "out_of_scope")
    assert outcome.need == "self_harm"
    assert "1098" in Chat.text(outcome) and "112" in Chat.text(outcome)


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
    assert "112" in outcome.messages[0].text


def test_a_number_out_of_range_gets_the_menu_again(dialogue):
    chat = Chat(dialogue)
    chat.say("hi", "greet")
    outcome = chat.say("9", "choose_option")
    assert outcome.need == "choice:9" or outcome.slots["menu"] == "main"
    assert outcome.messages[-1].choices


def test_helpline_asks_the_country_then_answers(dialogue):
    chat = Chat(dialogue)
    first = chat.say("i need help", "need_helpline")
    assert first.slots["menu"] == "country" and first.slots["resume"] == "need_helpline"
    second = chat.say("kenya", "give_country")
    assert second.slots["country"] == "KE"
    assert "116" in Chat.text(second)
    assert second.slots["resume"] is None


def test_an_unknown_country_is_asked_again(dialogue):
    chat = Chat(dialogue)
    chat.say("help", "need_helpline")
    outcome = chat.say("narnia", "out_of_scope")
    assert outcome.messages[0].text == dialogue.texts.get("country_unknown", "en")
    assert outcome.slots["menu"] == "country"


def test_a_country_without_a_helpline_still_gets_the_emergency_number(dialogue):
    outcome = Chat(dialogue, metadata={"country": "MX"}).say("ayuda porfa necesito un numero", "need_helpline")
    text = Chat.text(outcome)
    assert "911" in text and "México" in text


def test_change_language_by_menu(dialogue):
    chat = Chat(dialogue)
    chat.say("hi", "greet")
    outcome = chat.say("change language", "change_language")
    assert outcome.slots["menu"] == "language"
    assert "Español" in outcome.messages[-1].text
    switched = chat.say("3", "choose_option")
    assert switched.slots["language"] == "es"
    assert switched.messages[0].text == dialogue.texts.get("language_set", "es")


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


def test_stop_needs_a_confirmation(dialogue):
    chat = Chat(dialogue, language="en", metadata={"country": "KE"})
    chat.say("hi", "greet")
    asked = chat.say("stop", "stop_delete")
    assert asked.slots["menu"] == "confirm_stop" and len(asked.messages[-1].choices) == 2
    done = chat.say("1", "choose_option")
    assert done.messages[0].text == dialogue.texts.get("stopped", "en")
    assert done.slots["country"] is None


def test_empty_and_emoji_only_messages_get_a_kind_reply(dialogue):
    assert Chat(dialogue).say("", None).need == "empty_message"
    outcome = Chat(dialogue).say("😭😭", "nlu_fallback")
    assert outcome.messages and outcome.messages[-1].choices


def test_every_reply_fits_an_sms_in_every_language(dialogue):
    for lang in dialogue.registry.codes:
        for intent in ("greet", "danger_now", "self_harm", "need_helpline", "online_sexual_abuse", "cyberbullying",
                       "report_content", "privacy_question", "safety_tips", "thanks_bye", "out_of_scope",
                       "stop_delete", "change_language", "talk_to_human"):
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
