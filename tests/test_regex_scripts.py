"""The scripts a pattern's every match must contain a letter of: the crisis net skips a pattern
on a message without them, so a wrong proof would hide a crisis."""

import re
from pathlib import Path

import pytest
import yaml

from bot import DATA_DIR
from bot.conversation.triage import _fold_pattern
from bot.language.ngram import char_script
from bot.language.regex_scripts import needs_script


@pytest.mark.parametrize(
    "pattern, scripts",
    [
        (r"\bkill(ing)? my ?self", {"LATIN"}),
        ("ฆ่าตัวตาย", {"THAI"}),
        (r"(?:abc)?ข", {"THAI"}),  # the Latin part is optional, the Thai one is not
        ("(a|ข)", {"LATIN", "THAI"}),
        ("ก|kill", {"LATIN", "THAI"}),
        ("[a-z]+", {"LATIN"}),
        (r"(?!x)y", {"LATIN"}),
        ("хочу (умереть|сдохнуть)", {"CYRILLIC"}),
    ],
)
def test_a_letter_nothing_makes_optional_proves_its_script(pattern, scripts):
    assert needs_script(pattern) == frozenset(scripts)


@pytest.mark.parametrize(
    "pattern", [r"\w+", r"\d{3}", "x?", "(a|)", "[^a]", ".", "(?=ab)", "ab|12", "(ab)*", "[a-z0-9]"]
)
def test_a_pattern_that_could_match_without_a_letter_proves_nothing(pattern):
    assert needs_script(pattern) is None


def test_a_broken_pattern_is_an_error():
    with pytest.raises(re.error):
        needs_script("(unclosed")


def _messages() -> list[str]:
    """Every NLU example of every language: many scripts, many crisis words."""
    texts = []
    for path in sorted((DATA_DIR / "nlu").glob("*/nlu.yml")):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            texts += [line[2:] for line in block.get("examples", "").splitlines() if line.strip()]
    return texts


def test_no_crisis_pattern_matches_a_message_without_the_scripts_it_needs():
    """Every pattern of every list, on every NLU example: where the proof says a match needs a
    script, no message without a letter of it matches."""
    from bot.language.detection import fold

    messages = [(folded, {char_script(ch) for ch in folded if ch.isalpha()}) for folded in map(fold, _messages())]
    proven = 0
    for path in sorted(Path(DATA_DIR / "crisis").glob("*.yml")):
        for kind, entries in yaml.safe_load(path.read_text()).items():
            for entry in entries if isinstance(entries, list) else []:
                folded = _fold_pattern(entry)
                needs = needs_script(folded)
                if needs is None:
                    continue
                proven += 1
                compiled = re.compile(folded)
                wrong = [text for text, scripts in messages if not needs & scripts and compiled.search(text)]
                assert not wrong, (path.name, kind, entry, wrong[:3])
    assert proven > 1000
