"""Which needs go to a counsellor, and the desks file that says which helplines take them."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from bot.conversation.dialogue import Dialogue, Turn
from bot.datafiles.yamlfile import ConfigError
from bot.handoff.desks import Desk, Desks
from bot.handoff.queue import Risk
from tests.conftest import rebuilt
from tests.numbers import emergency, gives, helpline, helpline_number


@pytest.fixture(scope="module")
def dialogue(dialogue: Dialogue) -> Dialogue:
    """The loaded dialogue, with a desk in Nigeria."""
    return rebuilt(dialogue, desks=Desks({"NG": Desk("NG", "Test desk NG", 10)}))


@pytest.mark.parametrize(
    "intent, text, risk",
    [
        ("talk_to_human", "i want a real person", Risk.ASKED),
        ("online_sexual_abuse", "he wants nudes or he posts my pics", Risk.HARM),
        ("self_harm", "i want to die", Risk.IMMINENT),
        ("out_of_scope", "im going to kill myself", Risk.IMMINENT),  # caught by the crisis net
        ("danger_now", "he is hitting me", Risk.IMMINENT),
    ],
)
def test_these_needs_go_to_a_counsellor_where_the_helpline_takes_handoffs(dialogue, intent, text, risk):
    outcome = dialogue.respond(Turn(text=text, intent=intent, slots={"language": "en"}, metadata={"country": "NG"}))
    assert outcome.handoff is not None and outcome.handoff.risk is risk
    if risk is Risk.IMMINENT:  # Nigeria's emergency number at once
        assert dialogue.texts.get("emergency_known", "en", emergency=emergency("NG")) in [
            m.text for m in outcome.messages
        ]


def test_no_handoff_where_the_helpline_does_not_take_them_or_for_other_needs(dialogue):
    elsewhere = dialogue.respond(
        Turn(text="i want a real person", intent="talk_to_human", slots={"language": "en"}, metadata={"country": "KE"})
    )
    said = " ".join(m.text for m in elsewhere.messages)  # Kenya's helpline to call instead
    assert elsewhere.handoff is None and helpline("KE").name in said and gives(said, helpline_number("KE"))
    tips = dialogue.respond(
        Turn(text="safety tips", intent="safety_tips", slots={"language": "en"}, metadata={"country": "NG"})
    )
    assert tips.handoff is None


def test_a_handoff_waits_for_the_country_when_it_is_unknown(dialogue):
    first = dialogue.respond(Turn(text="i want a real person", intent="talk_to_human", slots={"language": "en"}))
    assert first.handoff is None and first.slots["menu"] == "country"
    second = dialogue.respond(Turn(text="nigeria", intent="give_country", slots=first.slots))
    assert second.handoff is not None and second.handoff.reason == "talk_to_human"


def write(tmp_path, text):
    path = tmp_path / "handoff.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_desks_file(tmp_path):
    desks = Desks.load(write(tmp_path, "desks:\n  KE:\n    name: Child Helpline 116\n    max_wait_minutes: 5\n"))
    assert desks.get("ke") == Desk("KE", "Child Helpline 116", 5) and desks.get("GB") is None
    assert Desks.load(write(tmp_path, "desks: {}\n")).get("KE") is None


@pytest.mark.parametrize(
    "text, line, field",
    [
        ("desks:\n  Kenya:\n    name: x\n", 2, "desks.Kenya"),
        ("desks:\n  KE:\n    max_wait_minutes: 5\n", 2, "desks.KE.name"),
        ("desks:\n  KE:\n    name: x\n    max_wait_minutes: forever\n", 4, "desks.KE.max_wait_minutes"),
        ("desks: [KE]\n", 1, "desks"),
        ("desks:\n  KE:\n    name: x\n    colour: red\n", 4, "desks.KE.colour"),
        (
            "desks:\n  KE:\n    name: x\n    hours: {mon-fri: '9-5'}\n    time_zone: Africa/Nairobi\n",
            4,
            "desks.KE.hours",
        ),
        ("desks:\n  KE:\n    name: x\n    hours: 24/7\n", 4, "desks.KE.time_zone"),
        ("desks:\n  KE:\n    name: x\n    hours: 24/7\n    time_zone: Africa/Narnia\n", 5, "desks.KE.time_zone"),
        (
            "desks:\n  KE:\n    name: x\n    webhook: {url: 'http://example.org/in', secret_variable: KE_SECRET}\n",
            4,
            "desks.KE.webhook.url",
        ),
        (
            "desks:\n  KE:\n    name: x\n    webhook: {url: 'https://example.org/in', secret_variable: UNSET_SECRET}\n",
            4,
            "desks.KE.webhook.secret_variable",
        ),
        (
            "desks:\n  KE:\n    name: x\n    webhook: {url: 'https://example.org/in', secret: abc}\n",
            4,
            "desks.KE.webhook.secret",
        ),
    ],
)
def test_a_broken_desks_file_names_line_and_field(tmp_path, text, line, field):
    with pytest.raises(ConfigError) as caught:
        Desks.load(write(tmp_path, text), {"KE_SECRET": "k" * 40})
    assert (caught.value.line, caught.value.field) == (line, field)


def test_desk_hours_and_webhook(tmp_path):
    text = """\
        desks:
          KE:
            name: Child Helpline 116
            hours: {mon-fri: "08:00-17:00"}
            time_zone: Africa/Nairobi
            webhook: {url: "https://helpline.example/tickets", secret_variable: KE_SECRET}
    """
    desk = Desks.load(write(tmp_path, text), {"KE_SECRET": "s" * 32}).get("KE")
    assert desk.webhook.url == "https://helpline.example/tickets" and desk.webhook.secret == b"s" * 32
    monday_9_nairobi = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.timezone.utc)
    assert desk.state(monday_9_nairobi).open
    saturday = desk.state(dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.timezone.utc))
    assert not saturday.open and saturday.opens_at.isoformat() == "2026-11-30T08:00:00+03:00"
    with pytest.raises(ConfigError, match="at least 32"):
        Desks.load(write(tmp_path, text), {"KE_SECRET": "short"})
    assert Desks.load(write(tmp_path, "desks:\n  KE:\n    name: x\n")).get("KE").state(monday_9_nairobi).always


def test_two_misunderstandings_in_a_row_offer_a_person(dialogue):
    slots = {"language": "en"}
    first = dialogue.respond(Turn(text="blorp", intent="nlu_fallback", slots=slots, metadata={"country": "NG"}))
    assert first.slots["misunderstood"] == "1" and first.slots["menu"] == "main"
    second = dialogue.respond(Turn(text="zzzq", intent="out_of_scope", slots=first.slots))
    assert second.slots["menu"] == "offer_person" and second.messages[-1].text.startswith(
        dialogue.texts.get("offer_person", "en")
    )
    assert [c.payload for c in second.messages[-1].choices] == ["1", "2"]
    yes = dialogue.respond(Turn(text="1", intent="choose_option", slots=second.slots))
    assert yes.need == "talk_to_human" and yes.handoff is not None and yes.handoff.risk is Risk.ASKED


def test_an_understood_message_in_between_resets_the_count(dialogue):
    first = dialogue.respond(Turn(text="blorp", intent="nlu_fallback", slots={"language": "en"}))
    between = dialogue.respond(Turn(text="safety tips", intent="safety_tips", slots=first.slots))
    assert between.slots["misunderstood"] is None
    again = dialogue.respond(Turn(text="zzzq", intent="nlu_fallback", slots=between.slots))
    assert again.slots["menu"] == "main"  # a first misunderstanding again, not the offer
    no = dialogue.respond(
        Turn(
            text="2",
            intent="choose_option",
            slots=dialogue.respond(Turn(text="qq", intent="nlu_fallback", slots=again.slots)).slots,
        )
    )
    assert no.slots["menu"] == "main" and no.handoff is None
