"""Outcome categories: the shipped list loads, and every defect names the file, the line and the field."""

import pytest

from bot.datafiles.yamlfile import ConfigError
from bot.handoff.outcomes import CHI_SPLIT, Outcomes

SOURCES = "sources:\n- url: https://childhelplineinternational.org/\n  read: 2026-01-01\n"


def write(tmp_path, outcomes):
    path = tmp_path / "outcomes.yml"
    path.write_text(SOURCES + "outcomes:\n" + outcomes, encoding="utf-8")
    return path


def test_shipped_outcomes_load():
    outcomes = Outcomes.load()
    needed = {
        "counselling_given",
        "information_given",
        "referred_to_services",
        "referred_to_child_protection",
        "referred_to_police",
        "emergency_services_contacted",
        "reported_to_hotline",
        "follow_up_planned",
        "child_left",
        "handed_back_to_bot",
        "silent_contact",
        "test_contact",
        "abusive_contact",
    }
    assert needed <= set(outcomes.codes)
    assert outcomes.codes == [outcome.code for outcome in outcomes.all()]  # file order, kept
    assert outcomes.get("referred_to_police").label == "Reported to the police"
    assert outcomes.get("silent_contact").chi == "not a counselling contact"
    assert outcomes.get("no_such_code") is None and outcomes.get(None) is None
    assert all(outcome.chi in (None, *CHI_SPLIT) for outcome in outcomes.all())
    assert any("childhelplineinternational.org" in source.url for source in outcomes.sources)


OWN = "- {code: child_left, label: Child left}\n- {code: handed_back_to_bot, label: Handed back}\n"


def test_small_file(tmp_path):
    outcomes = Outcomes.load(write(tmp_path, "- {code: counselling_given, label: ' Counselling given '}\n" + OWN))
    assert outcomes.codes == ["counselling_given", "child_left", "handed_back_to_bot"]
    assert outcomes.get("counselling_given").label == "Counselling given"


def test_the_outcomes_the_bot_records_itself_must_be_there(tmp_path):
    with pytest.raises(ConfigError, match="handed_back_to_bot"):
        Outcomes.load(write(tmp_path, "- {code: child_left, label: Child left}\n"))


@pytest.mark.parametrize(
    "body, line, field, words",
    [
        (
            "- code: counselling_given\n  label: A\n- code: counselling_given\n  label: B\n",
            7,
            "outcomes[1].code",
            "already used on line 5",
        ),
        ("- code: CounsellingGiven\n  label: A\n", 5, "outcomes[0].code", "snake_case"),
        ("- code: counselling__given\n  label: A\n", 5, "outcomes[0].code", "snake_case"),
        ("- code: counselling_given\n  label: '  '\n", 6, "outcomes[0].label", "non-empty"),
        ("- code: counselling_given\n", 5, "outcomes[0].label", "non-empty"),
        ("- code: counselling_given\n  label: A\n  lable: B\n", 7, "outcomes[0].lable", "not a field"),
        ("- code: counselling_given\n  label: A\n  chi: counselling\n", 7, "outcomes[0].chi", "must be one of"),
        ("- just a text\n", 4, "outcomes[0]", "mapping"),
        ("  []\n", 4, "outcomes", "list"),
    ],
)
def test_broken_outcomes_name_line_and_field(tmp_path, body, line, field, words):
    with pytest.raises(ConfigError) as caught:
        Outcomes.load(write(tmp_path, body))
    assert (caught.value.line, caught.value.field) == (line, field)
    assert words in str(caught.value) and "outcomes.yml" in str(caught.value)


@pytest.mark.parametrize(
    "text, line, field, words",
    [
        ("outcomes: [{code: a, label: A}]\n", 1, "sources", "pages"),
        (
            "sources:\n- url: childhelplineinternational.org\n  read: 2026-01-01\noutcomes: [{code: a, label: A}]\n",
            2,
            "sources[0].url",
            "http",
        ),
        (
            "sources:\n- url: https://example.org\n  read: 2999-01-01\noutcomes: [{code: a, label: A}]\n",
            3,
            "sources[0].read",
            "future",
        ),
        (
            "sources:\n- url: https://example.org\n  read: soon\noutcomes: [{code: a, label: A}]\n",
            3,
            "sources[0].read",
            "YYYY-MM-DD",
        ),
        (SOURCES + "outcomes: [{code: a, label: A}]\nextra: 1\n", 5, "extra", "not a field"),
    ],
)
def test_sources_are_checked(tmp_path, text, line, field, words):
    path = tmp_path / "outcomes.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Outcomes.load(path)
    assert (caught.value.line, caught.value.field) == (line, field)
    assert words in str(caught.value)
