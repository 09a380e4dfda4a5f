"""The floor (bot/dialogue.py): every reply that is not a confident answer without risk carries the
child's helpline and emergency number; crisis decisions by phrase list, risk classifier and intent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Optional, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.conversation.dialogue import RISK_NEEDS, Dialogue, Outcome, Turn
from bot.conversation.risk import RiskReading, RiskScore, RiskSettings
from tests.conftest import rebuilt
from tests.numbers import gives

INTENTS = [
    None,
    "nlu_fallback",
    "out_of_scope",
    "greet",
    "need_helpline",
    "talk_to_human",
    "self_harm",
    "danger_now",
    "online_sexual_abuse",
    "cyberbullying",
    "report_content",
    "privacy_question",
    "safety_tips",
    "give_country",
    "change_language",
    "thanks_bye",
    "stop_delete",
    "plain_language",
]


class FixedRisk:
    """The risk classifier's answer, fixed: the dialogue's rules tested apart from what the model learnt."""

    def __init__(
        self, settings: RiskSettings, probability: float = 0.0, likeliest: str = "self_harm", from_context: bool = False
    ) -> None:
        self.settings = settings
        score = RiskScore(likeliest, probability, from_context)
        self.reading = RiskReading(RiskScore(likeliest, 0.0), score) if from_context else RiskReading(score)

    def assess(self, text: str, earlier: Sequence[str] = ()) -> RiskReading:
        return self.reading


def with_risk(dialogue: Dialogue, **score: Any) -> Dialogue:
    return rebuilt(dialogue, risk=FixedRisk(dialogue.risk.settings, **score))


def numbers(dialogue: Dialogue, country: str) -> tuple[list[str], list[str]]:
    entry = dialogue.table.get(country)
    helplines = [c.number.dial for h in entry.helplines for c in h.contacts if c.number] + [
        c.address for h in entry.helplines for c in h.contacts if c.address
    ]
    return helplines, [e.number.dial for e in entry.emergency]


def text_of(outcome: Outcome) -> str:
    return "\n".join(m.text for m in outcome.messages)


def gives_contact(said: str, number_or_address: str) -> bool:
    """A number given whole (not as part of a longer one), or a chat address or handle as written."""
    return gives(said, number_or_address) if number_or_address[-1:].isdigit() else number_or_address in said


def has_both(dialogue: Dialogue, outcome: Outcome, country: str) -> bool:
    helplines, emergency = numbers(dialogue, country)
    said = text_of(outcome)
    return any(gives_contact(said, h) for h in helplines) and any(gives_contact(said, e) for e in emergency)


def turn(
    text: str, intent: Optional[str], confidence: float = 0.95, country: Optional[str] = "GB", **slots: Any
) -> Turn:
    return Turn(
        text=text,
        intent=intent,
        confidence=confidence,
        metadata={"country": country} if country else None,
        slots={"language": "en", "privacy_told": "1", **slots},
    )


def test_not_understood_carries_both_numbers(dialogue):
    out = with_risk(dialogue).respond(turn("blorp wizzle", "out_of_scope", 0.9))
    assert out.need == "out_of_scope" and not out.sure
    assert has_both(dialogue, out, "GB")
    assert out.messages[-1].choices  # the menu still closes the reply


def test_a_confident_answer_without_risk_adds_nothing(dialogue):
    out = with_risk(dialogue, probability=0.01).respond(turn("tips please", "safety_tips", 0.97))
    assert out.sure and [m.text for m in out.messages] == [dialogue.texts.get("safety_tips", "en")]


def test_an_unsure_intent_carries_both_numbers(dialogue):
    out = with_risk(dialogue, probability=0.01).respond(turn("tips please", "safety_tips", 0.41))
    assert out.need == "safety_tips" and not out.sure and has_both(dialogue, out, "GB")


def test_some_risk_makes_any_answer_unsure(dialogue):
    settings = dialogue.risk.settings
    out = with_risk(dialogue, probability=settings.unsure_threshold + 0.01).respond(
        turn("tips please", "safety_tips", 0.99)
    )
    assert not out.sure and has_both(dialogue, out, "GB")


def test_the_first_reply_of_a_conversation_carries_both_numbers(dialogue):
    out = with_risk(dialogue).respond(turn("hi", "greet", 0.99, privacy_told=None))
    assert out.messages[0].text == dialogue.texts.get("privacy_notice", "en", days=30)
    assert has_both(dialogue, out, "GB") and out.messages[-1].choices


def test_without_a_country_it_gives_what_it_can_and_asks(dialogue):
    out = with_risk(dialogue).respond(turn("blorp", "out_of_scope", 0.9, country=None))
    said = [m.text for m in out.messages]
    assert dialogue.texts.get("emergency_unknown", "en") in said
    assert dialogue.texts.get("floor_ask_country", "en") in said


def test_the_risk_classifier_alone_can_call_a_crisis(dialogue):
    out = with_risk(dialogue, likeliest="self_harm", probability=0.8).respond(
        turn("gave away my games, wont need them", "out_of_scope", 0.9)
    )
    assert out.need == "self_harm" and out.slots["risk"] == "self_harm" and has_both(dialogue, out, "GB")


def test_a_crisis_intent_the_risk_classifier_doubts_gets_a_kind_check_in_and_both_numbers(dialogue):
    out = with_risk(dialogue, probability=0.05).respond(turn("me quiero morir de la vergüenza", "self_harm", 0.98))
    assert out.need == "check_in" and out.need not in RISK_NEEDS
    assert out.messages[0].text == dialogue.texts.get("check_in", out.language) and has_both(dialogue, out, "GB")


def test_where_a_helpline_takes_conversations_the_check_in_offers_a_person(dialogue):
    from bot.handoff.desks import Desks

    desks = Desks.load(Path(__file__).parent / "handoff_desks.yml")
    doubting = with_risk(dialogue, probability=0.05)
    doubting.desks = desks
    out = doubting.respond(turn("everything is so bad", "self_harm", 0.9, country="NG"))
    assert out.need == "check_in" and out.slots["menu"] == "offer_person"
    assert out.messages[-1].text.startswith(dialogue.texts.get("check_in_person", "en")) and has_both(
        dialogue, out, "NG"
    )
    yes = doubting.respond(turn("1", None, 1.0, country="NG", menu="offer_person"))
    assert yes.need == "talk_to_human" and yes.handoff is not None


def test_a_crisis_intent_the_risk_classifier_agrees_with_is_a_crisis(dialogue):
    agree = dialogue.risk.settings.intent_agreement_threshold
    out = with_risk(dialogue, probability=agree + 0.05).respond(turn("i dont want to be here", "self_harm", 0.7))
    assert out.need == "self_harm"


def test_the_phrase_lists_need_no_classifier(dialogue):
    out = with_risk(dialogue).respond(turn("i want to kill myself", "greet", 0.99))
    assert out.need == "self_harm" and has_both(dialogue, out, "GB")


def test_risk_read_from_earlier_messages_is_answered_once(dialogue):
    context = {"likeliest": "self_harm", "probability": 0.7, "from_context": True}
    first = with_risk(dialogue, **context).respond(turn("tonight", "out_of_scope", 0.8))
    assert first.need == "self_harm"
    after = with_risk(dialogue, **context).respond(turn("ok", "thanks_bye", 0.9, risk=first.slots["risk"]))
    assert after.need == "thanks_bye" and not after.sure and has_both(dialogue, after, "GB")


def test_sextortion_gets_the_emergency_number_too(dialogue):
    out = with_risk(dialogue, likeliest="online_sexual_abuse", probability=0.9).respond(
        turn("he'll post my pics", "online_sexual_abuse")
    )
    assert has_both(dialogue, out, "GB")


@pytest.mark.parametrize(
    "text, foreign",
    [
        ("મને ઘરે મારે છે, મદદ કરો", "gujarati"),
        ("నాకు సహాయం కావాలి, ఇంట్లో కొడుతున్నారు", "telugu"),
    ],
)
def test_a_language_we_dont_recognise_gets_both_numbers(dialogue, text, foreign):
    """A script none of our languages (full or numbers-first) is written in: nothing read is sure."""
    assert dialogue.detector.foreign(text) == foreign
    out = with_risk(dialogue).respond(turn(text, "greet", 0.99, country="IT"))
    assert not out.sure and has_both(dialogue, out, "IT")


def test_short_or_our_own_languages_are_not_foreign(dialogue):
    for text in (
        "ciao",
        "i want help please",
        "necesito ayuda por favor",
        "我不想活了",
        "mujhe madad chahiye please yaar",
    ):
        assert dialogue.detector.foreign(text) is None, text


def test_a_picture_alone_gets_a_kind_word_and_both_numbers(dialogue):
    said = dialogue.only_words({"country": "GB", "language": "en", "channel": "whatsapp"}, alone=True)
    assert said[0].text == dialogue.texts.get("only_words", "en")
    helplines, emergency = numbers(dialogue, "GB")
    joined = "\n".join(m.text for m in said)
    assert any(gives_contact(joined, h) for h in helplines) and any(gives_contact(joined, e) for e in emergency)
    assert len(dialogue.only_words({"country": "GB"})) == 1  # with words, the answer to them follows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(max_size=400),
    intent=st.sampled_from(INTENTS),
    confidence=st.floats(0, 1),
    first=st.booleans(),
    menu=st.sampled_from([None, "main", "country", "language", "confirm_stop"]),
    country=st.sampled_from(["GB", "KE", "BR", "IN", None]),
)
def test_every_reply_is_sure_or_carries_both_numbers(dialogue, text, intent, confidence, first, menu, country):
    """Any text, any classification, any state: a reply is a confident answer without risk, or it
    carries the helpline and the emergency number (or, without a country, the advice and the question)."""
    out = dialogue.respond(
        Turn(
            text=text,
            intent=intent,
            confidence=confidence,
            metadata={"country": country} if country else None,
            slots={"language": "en", "privacy_told": None if first else "1", "menu": menu},
        )
    )
    if out.erase:  # the child confirmed "delete my data": told it is done, nothing else
        assert menu == "confirm_stop"
        return
    if out.sure:
        assert out.need not in RISK_NEEDS and not first
        return
    if out.slots["country"]:  # the hint's, or one the child just chose
        assert has_both(dialogue, out, out.slots["country"]), (out.need, text_of(out))
    else:
        said = text_of(out)
        lang = out.slots["language"]
        assert dialogue.texts.get("emergency_unknown", lang) in said
        assert dialogue.texts.get("floor_ask_country", lang) in said or out.slots["menu"] in (
            "country",
            "confirm_country",
        )


def test_settings_are_read_from_data_risk_yml(dialogue):
    assert dialogue.risk.settings == RiskSettings.load()
    assert replace(dialogue.risk.settings, context_turns=1).context_turns == 1


def test_danger_chosen_from_the_menu_counts_as_the_turns_risk(dialogue):
    out = with_risk(dialogue).respond(turn("2", None, 1.0, menu="main"))
    assert out.need == "danger_now" and out.slots["risk"] == "danger_now" and has_both(dialogue, out, "GB")
