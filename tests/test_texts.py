"""Texts children read: the same keys and placeholders in every language, each SMS-sized."""

import pytest

from bot import DATA_DIR
from bot.conversation.sms import segments
from bot.datafiles.yamlfile import ConfigError
from bot.language import text_files
from bot.language.detection import LanguageRegistry
from bot.language.texts import MAX_TEXT_CHARS, Texts


def write(folder, lang, body):
    """A text file with ``body``'s texts (flat ``key: "text"`` lines), indented under ``texts:``;
    the file's line n is the body's line n - 2."""
    texts = "".join(f"  {line}\n" for line in body.splitlines())
    (folder / f"{lang}.yml").write_text(f"review: {{state: machine draft}}\ntexts:\n{texts}", encoding="utf-8")


def test_shipped_texts_are_complete_in_every_language():
    registry = LanguageRegistry()
    texts = Texts.load(registry.codes, registry.default)
    for lang in registry.codes:
        assert texts.get("greet", lang)
        filled = texts.get("emergency_known", lang, emergency="112")
        assert "112" in filled and len(filled) <= MAX_TEXT_CHARS


def test_each_language_really_is_translated():
    registry = LanguageRegistry()
    texts = Texts.load(registry.codes, registry.default)
    greetings = {texts.get("greet", lang) for lang in registry.codes}
    assert len(greetings) == len(registry.codes)


@pytest.mark.parametrize(
    "fr_body, line, words",
    [
        ('greet: "Salut"\n', None, "missing"),
        ('greet: "Salut"\nbye: "Salut {nom}"\n', 2, "placeholders"),
        ('greet: "Salut"\nbye: "Au revoir {name}"\nextra: "x"\n', 3, "unknown key"),
        ('greet: "' + "a" * 301 + '"\nbye: "Au revoir {name}"\n', 1, "characters"),
        ('greet: ""\nbye: "Au revoir {name}"\n', 1, "non-empty"),
        ('greet: "Salut {"\nbye: "Au revoir {name}"\n', 1, "placeholder"),
    ],
)
def test_broken_translations_stop_start_up(tmp_path, fr_body, line, words):
    write(tmp_path, "en", 'greet: "Hi"\nbye: "Bye {name}"\n')
    write(tmp_path, "fr", fr_body)
    with pytest.raises(ConfigError) as caught:
        Texts.load(["en", "fr"], "en", tmp_path)
    assert caught.value.line == (line + 2 if line else None)
    assert words in str(caught.value) and "fr.yml" in str(caught.value)


def test_values_are_filled_in(tmp_path):
    write(tmp_path, "en", 'greet: "Hi"\nbye: "Bye {name}"\n')
    write(tmp_path, "fr", 'greet: "Salut"\nbye: "Au revoir {name}"\n')
    texts = Texts.load(["en", "fr"], "en", tmp_path)
    assert texts.get("bye", "fr", name="Ana") == "Au revoir Ana"
    assert texts.get("bye", "xx", name="Ana") == "Bye Ana"  # unknown language: the default


def test_no_text_says_anything_in_emoji_or_pictures():
    """Screen readers read emoji out oddly and basic phones show boxes: every word is a word."""
    import unicodedata

    import yaml

    from bot import DATA_DIR

    files = [*sorted((DATA_DIR / "texts").rglob("*.yml")), *sorted((DATA_DIR / "canned").glob("*.yml"))]
    assert len(files) >= 30
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key, text in data.get("replies", data.get("texts", data)).items():
            symbols = [c for c in text if unicodedata.category(c) in ("So", "Cs")]
            assert not symbols, (path.name, key, symbols)


def test_every_way_to_reach_a_helpline_has_its_text_in_every_language():
    from bot.conversation.dialogue import CONTACT_TEXTS
    from bot.language.detection import LanguageRegistry
    from bot.language.texts import Texts
    from bot.routing.helplines import METHODS

    registry = LanguageRegistry()
    texts = Texts.load(registry.codes, registry.default)
    assert set(CONTACT_TEXTS) == set(METHODS)
    for language in registry.codes:
        for key in CONTACT_TEXTS.values():
            assert texts.get(key, language, number="116", handle="@x", url="https://x.org").strip()


def test_every_text_fits_three_sms_segments_of_its_alphabet():
    """GSM-7 (153 a segment) or, with one character outside it, UCS-2 (67): at most 3 segments."""
    for path in sorted((DATA_DIR / "texts").rglob("*.yml")):
        for key, text in text_files.read(path).texts.items():
            assert segments(text).count <= 3, f"{path.relative_to(DATA_DIR)}: {key} is {segments(text)}"
