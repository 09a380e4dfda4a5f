"""The table of needs (bot/conversation/needs.py): every row can run, and the lists derived from it."""

from __future__ import annotations

import pytest

from bot import PROJECT_ROOT
from bot.conversation import needs
from bot.conversation.dialogue import (
    CONFIRM_COUNTRY_MENU,
    CONFIRM_STOP_MENU,
    MAIN_MENU,
    OFFER_PERSON_MENU,
    UNCLEAR_INTENTS,
    Turn,
)
from bot.conversation.needs import NEEDS, Do, Need, Step, need_row, say
from bot.conversation.risk import RISK_CLASSES
from bot.conversation.triage import CRISIS_INTENTS
from bot.datafiles.yamlfile import load_mapping
from bot.handoff.desks import Desk, Desks
from bot.handoff.queue import Risk
from bot.stats.categories import Categories


def test_every_step_has_a_function(dialogue):
    assert set(dialogue._steps) == set(Do)
    assert {step.do for need in NEEDS.values() for step in need.steps} == set(Do)  # and each is used


def test_every_text_a_step_says_is_in_every_language(dialogue):
    keys = {step.text for need in NEEDS.values() for step in need.steps if step.text is not None}
    assert keys >= {"greet", "check_in_person", "confirm_stop"}
    for language in dialogue.registry.codes:
        for key in keys:
            assert dialogue.texts.get(key, language)


def test_every_intent_is_a_need_or_said_not_to_be_one():
    intents = set(load_mapping(PROJECT_ROOT / "domain.yml").data["intents"])
    assert intents - set(NEEDS) == set(needs.NOT_NEEDS)
    assert set(needs.NOT_NEEDS) <= set(UNCLEAR_INTENTS) - {None}  # never answered as itself
    assert set(needs.NOT_NEEDS).isdisjoint(NEEDS)


def test_every_menu_answer_and_command_is_a_need():
    for _, need in (*MAIN_MENU, *OFFER_PERSON_MENU):
        assert need in NEEDS
    assert set(needs.COMMANDS.values()) <= set(NEEDS)
    # The yes/no of confirming a country or deleting: answered by the menu choice itself, never a need of their own.
    assert {need for _, need in (*CONFIRM_COUNTRY_MENU, *CONFIRM_STOP_MENU)}.isdisjoint(NEEDS)


def test_every_need_is_published_under_a_category():
    assert set(NEEDS) <= Categories.load().needs


def test_the_derived_lists_are_what_they_were_by_hand():
    assert needs.TRIGGERS == {
        "self_harm": Risk.IMMINENT,
        "danger_now": Risk.IMMINENT,
        "online_sexual_abuse": Risk.HARM,
        "talk_to_human": Risk.ASKED,
    }
    assert set(needs.RISK_NEEDS) == {"self_harm", "danger_now", "online_sexual_abuse"} == set(RISK_CLASSES)
    assert set(needs.IMMINENT_NEEDS) == {"danger_now", "self_harm"}
    assert set(needs.UNSURE_NEEDS) == {"out_of_scope", "empty_message", "check_in", "numbers_first"}
    assert set(needs.NEEDS_HELPLINE) == {
        "need_helpline",
        "talk_to_human",
        "online_sexual_abuse",
        "cyberbullying",
        "report_content",
        "numbers_first",
    }
    assert CRISIS_INTENTS == needs.CRISIS_NEEDS == ("danger_now", "self_harm")  # in this order: danger first
    assert needs.COMMANDS == {
        "start": "greet",
        "language": "change_language",
        "helpline": "need_helpline",
        "stop": "stop_delete",
        "delete": "stop_delete",
        "simple": "plain_language",
    }


def test_a_menu_choice_and_an_unknown_need_have_rows_that_never_hand_off():
    assert need_row("choice:3") is NEEDS[needs.MENU_CHOICE]
    assert need_row("no_such_need") is need_row("out_of_scope") is NEEDS[needs.NOT_UNDERSTOOD]
    assert NEEDS[needs.MENU_CHOICE].urgency is None and NEEDS[needs.NOT_UNDERSTOOD].urgency is None


@pytest.mark.parametrize(
    "rows, problem",
    [
        ((Need("a", (Step(Do.SAY),)),), "says a text if and only if"),
        ((Need("a", (Step(Do.MAIN_MENU, "greet"),)),), "says a text if and only if"),
        ((Need("a", ()),), "without steps"),
        ((Need("a", (say("greet"),)), Need("a", (say("greet"),))), "listed twice"),
        ((Need("a", (say("greet"),), commands=("x",)), Need("b", (say("greet"),), commands=("x",))), "command"),
    ],
)
def test_a_broken_row_stops_the_import(rows, problem):
    with pytest.raises(ValueError, match=problem):
        needs._table(*rows)


def test_a_new_need_is_one_row(dialogue, monkeypatch):
    row = Need("homework_help", (say("safety_tips"), needs.HELPLINE), urgency=Risk.ASKED)
    monkeypatch.setitem(needs.NEEDS, "homework_help", row)
    monkeypatch.setattr(dialogue, "desks", Desks({"NG": Desk("NG", "Test desk NG", 10)}))
    out = dialogue.respond(Turn("can you help with my homework", "homework_help", {"privacy_told": "1"}))
    assert out.need == "homework_help" and out.slots["menu"] == "country" and out.slots["resume"] == "homework_help"
    texts = [m.text for m in out.messages]
    assert texts[0] == dialogue.texts.get("safety_tips", "en") and out.handoff is None
    told = dialogue.respond(Turn("Nigeria", "give_country", out.slots))
    assert told.handoff is not None and told.handoff.risk is Risk.ASKED and told.handoff.reason == "homework_help"
    assert told.gave_helpline
