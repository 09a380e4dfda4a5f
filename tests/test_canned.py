"""Canned replies: every language has every reply, SMS-sized, and every defect names the file, line and reply."""

import pytest

from bot.datafiles.yamlfile import ConfigError
from bot.handoff.canned import CannedReplies
from bot.language.detection import LanguageRegistry
from bot.language.texts import MAX_TEXT_CHARS

EN = 'replies:\n  greeting: "Hi"\n  goodbye: "Bye"\n'


def write(folder, lang, body):
    (folder / f"{lang}.yml").write_text(body, encoding="utf-8")


def test_shipped_replies_are_complete_in_every_language():
    registry = LanguageRegistry()
    canned = CannedReplies.load(registry.codes)
    english = canned.for_language("en")
    assert 6 <= len(english) <= 12
    assert english[0] == ("greeting", canned.english("greeting"))
    for lang in registry.codes:
        pairs = canned.for_language(lang)
        assert [key for key, _ in pairs] == canned.keys  # same order everywhere
        assert all(0 < len(text) <= MAX_TEXT_CHARS for _, text in pairs)
        if lang != "en":
            assert not set(dict(pairs).values()) & set(dict(english).values())  # really translated
        assert not any(ch.isdigit() for _, text in pairs for ch in text)  # no phone numbers


def test_scripts_match_the_language():
    canned = CannedReplies.load(LanguageRegistry().codes)
    ranges = {"ar": (0x0600, 0x06FF), "ru": (0x0400, 0x04FF), "hi": (0x0900, 0x097F), "zh": (0x4E00, 0x9FFF)}
    for lang, (low, high) in ranges.items():
        for key, text in canned.for_language(lang):
            assert any(low <= ord(ch) <= high for ch in text), (lang, key)


def test_unknown_language_gets_english(tmp_path):
    write(tmp_path, "en", EN)
    write(tmp_path, "fr", 'replies:\n  greeting: "Salut"\n  goodbye: "Au revoir"\n')
    canned = CannedReplies.load(["fr"], tmp_path)
    assert canned.for_language("fr") == [("greeting", "Salut"), ("goodbye", "Au revoir")]
    assert canned.for_language("xx") == [("greeting", "Hi"), ("goodbye", "Bye")]
    assert canned.english("goodbye") == "Bye"


@pytest.mark.parametrize(
    "fr_body, line, field, words",
    [
        ('replies:\n  greeting: "Salut"\n', 1, "replies.goodbye", "missing"),
        ('replies:\n  greeting: "Salut"\n  goodbye: "Au revoir"\n  extra: "x"\n', 4, "replies.extra", "unknown reply"),
        (
            'replies:\n  greeting: "' + "a" * (MAX_TEXT_CHARS + 1) + '"\n  goodbye: "Au revoir"\n',
            2,
            "replies.greeting",
            "characters",
        ),
        ('replies:\n  greeting: ""\n  goodbye: "Au revoir"\n', 2, "replies.greeting", "non-empty"),
        ('replies:\n  greeting: ["Salut"]\n  goodbye: "Au revoir"\n', 2, "replies.greeting", "non-empty"),
        ('replies:\n  greeting: "Salut {name}"\n  goodbye: "Au revoir"\n', 2, "replies.greeting", "sent as written"),
        ('replies: "Salut"\n', 1, "replies", "must map"),
        ('greeting: "Salut"\n', 1, "greeting", "not a field"),
    ],
)
def test_broken_translations_stop_start_up(tmp_path, fr_body, line, field, words):
    write(tmp_path, "en", EN)
    write(tmp_path, "fr", fr_body)
    with pytest.raises(ConfigError) as caught:
        CannedReplies.load(["en", "fr"], tmp_path)
    assert (caught.value.line, caught.value.field) == (line, field)
    assert words in str(caught.value) and "fr.yml" in str(caught.value)


def test_missing_language_file_stops_start_up(tmp_path):
    write(tmp_path, "en", EN)
    with pytest.raises(ConfigError) as caught:
        CannedReplies.load(["en", "sw"], tmp_path)
    assert "sw.yml" in str(caught.value) and "cannot be read" in str(caught.value)
