"""The crisis safety net, in every language, on cases kept in tests/triage_cases.yml."""

import pytest
import yaml

from bot import PROJECT_ROOT
from bot.conversation.triage import CrisisNet, overrule
from bot.language.detection import LanguageRegistry

CASES = yaml.safe_load((PROJECT_ROOT / "tests" / "triage_cases.yml").read_text(encoding="utf-8"))
NET = CrisisNet.load(LanguageRegistry().codes)


@pytest.mark.parametrize("lang, item", [(lang, item) for lang, c in CASES.items() for item in c["caught"]])
def test_crisis_phrases_are_caught(lang, item):
    match = NET.check(item["text"])
    assert match is not None and match.intent == item["intent"], (lang, item["text"])


@pytest.mark.parametrize("lang, text", [(lang, text) for lang, c in CASES.items() for text in c["not_caught"]])
def test_everyday_phrases_are_not_caught(lang, text):
    assert NET.check(text) is None


def test_every_language_has_cases():
    assert set(CASES) == set(LanguageRegistry().codes)


def test_overrule_keeps_the_classifiers_crisis_and_adds_the_nets():
    match = NET.check("i want to kill myself")
    assert overrule("out_of_scope", match) == "self_harm"
    assert overrule("danger_now", match) == "danger_now"
    assert overrule("greet", None) == "greet"
