"""Privacy in the conversation itself: the first-contact notice, and deleting on request."""

from __future__ import annotations

import pytest

from bot.conversation.dialogue import Turn
from bot.conversation.sms import fits
from bot.language.detection import LanguageRegistry
from tests.conftest import rebuilt
from tests.numbers import emergency


def test_the_first_message_gets_the_notice_first_and_only_once(dialogue):
    first = dialogue.respond(Turn(text="hi", intent="greet", slots={"language": "en"}))
    notice = dialogue.texts.get("privacy_notice", "en", days=30)
    assert first.messages[0].text == notice and first.slots["privacy_told"] == "1"
    assert "30 days" in notice and "delete my data" in notice
    second = dialogue.respond(Turn(text="safety tips", intent="safety_tips", slots=first.slots))
    assert notice not in [m.text for m in second.messages]


def test_a_crisis_reply_always_comes_before_the_notice(dialogue):
    first = dialogue.respond(Turn(text="i want to die", intent="self_harm", slots={}, metadata={"country": "KE"}))
    texts = [m.text for m in first.messages]
    assert texts[0] == dialogue.texts.get("self_harm", "en")
    assert texts[-1] == dialogue.texts.get("privacy_notice", "en", days=30)
    danger = dialogue.respond(
        Turn(text="he is hitting me now", intent="danger_now", slots={}, metadata={"country": "KE"})
    )
    assert danger.messages[0].text == dialogue.texts.get("emergency_known", "en", emergency=emergency("KE"))
    assert danger.messages[-1].text == dialogue.texts.get("privacy_notice", "en", days=30)
    abuse = dialogue.respond(
        Turn(
            text="someone is blackmailing me with my pics",
            intent="online_sexual_abuse",
            slots={},
            metadata={"country": "KE"},
        )
    )
    assert abuse.messages[0].text == dialogue.texts.get("online_sexual_abuse", "en")
    assert abuse.messages[-1].text == dialogue.texts.get("privacy_notice", "en", days=30)


def test_asking_about_privacy_first_gives_the_notice_once(dialogue):
    asked = dialogue.respond(Turn(text="who reads this", intent="privacy_question", slots={"language": "en"}))
    said = [m.text for m in asked.messages]
    assert said[0] == dialogue.texts.get("privacy_notice", "en", days=30)
    assert said.count(said[0]) == 1
    # A first reply always carries what can be given without a country: the emergency advice, and the question.
    assert said[1:] == [dialogue.texts.get("emergency_unknown", "en"), dialogue.texts.get("floor_ask_country", "en")]


@pytest.mark.parametrize("language", LanguageRegistry().codes)
def test_the_notice_is_one_sms_in_every_language(dialogue, language):
    notice = dialogue.texts.get("privacy_notice", language, days=30)
    assert len(notice) <= 300 and fits(notice, max_segments=3)
    assert "30" in notice


def test_the_period_comes_from_the_configuration(dialogue):
    from dataclasses import replace

    from bot.storage.retention import DAY_S

    shorter = rebuilt(dialogue, retention=replace(dialogue.retention, conversation_s=14 * DAY_S))
    first = shorter.respond(Turn(text="hi", intent="greet", slots={"language": "en"}))
    assert "14 days" in first.messages[0].text
