"""Children's texts out to translators as PO files and back (scripts.translations): nothing
lost on the way, a native speaker's review recorded, a broken translation refused before it is written."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot import DATA_DIR
from bot.datafiles.yamlfile import ConfigError
from bot.language import text_files
from bot.language.detection import LanguageRegistry
from bot.language.text_files import MACHINE_DRAFT, REVIEWED
from bot.language.texts import Texts
from scripts.translations import PLAIN, export, import_

TRANSLATOR = "Amélie Martin <amelie@example.org>"


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry()


@pytest.fixture
def place(tmp_path: Path, registry: LanguageRegistry) -> tuple[Path, Path]:
    """A copy of the shipped texts, exported to PO files: (texts folder, PO folder)."""
    texts = tmp_path / "texts"
    shutil.copytree(DATA_DIR / "texts", texts)
    export(texts, tmp_path / "po", registry.recognised_codes, registry.default)
    return texts, tmp_path / "po"


def contents(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.yml"))}


def catalog(po: Path) -> Catalog:
    with po.open("rb") as handle:
        return read_po(handle)


def save(po: Path, edited: Catalog) -> None:
    with po.open("wb") as handle:
        write_po(handle, edited)


def translated(po: Path, context: str, text: str, fuzzy: bool = False) -> Catalog:
    """``po`` as a translator's tool leaves it: one text changed (and its review flag), signed."""
    edited = catalog(po)
    message = next(m for m in edited if m.context == context)
    message.string = text
    if not fuzzy:
        message.flags.discard("fuzzy")
    edited.last_translator = TRANSLATOR
    edited.revision_date = datetime(2026, 12, 8, 10, 0, tzinfo=timezone.utc)
    save(po, edited)
    return edited


def test_every_text_goes_out_and_comes_back_unchanged_byte_for_byte(place, registry):
    texts, po = place
    assert sorted(p.stem for p in po.glob("*.po")) == sorted(registry.recognised_codes)
    shipped = Texts.load(registry.codes, registry.default, texts, registry.numbers_first)
    for code in registry.recognised_codes:
        entries = [m for m in catalog(po / f"{code}.po") if m.id]
        filled = [m for m in entries if m.string]
        assert len(filled) == shipped.reviewed(code).texts, code  # every text of the language, plain ones too
        assert all(m.fuzzy for m in filled), code  # all machine drafts today
    before = contents(texts)
    assert import_(po, texts, registry) == []
    assert contents(texts) == before


def test_a_native_speakers_correction_is_imported_as_reviewed_by_them(place, registry):
    texts, po = place
    fr = text_files.read(texts / "fr.yml")
    assert fr.review_of("greet").state == MACHINE_DRAFT
    corrected = "Salut, je suis content que tu m'écrives. Je suis un bot qui t'aide à parler à une vraie personne."
    translated(po / "fr.po", "greet", corrected)
    assert import_(po, texts, registry) == [texts / "fr.yml"]
    fr = text_files.read(texts / "fr.yml")
    assert fr.texts["greet"] == corrected
    assert fr.review_of("greet") == text_files.Review(REVIEWED, TRANSLATOR, "2026-12-08")
    assert fr.review_of("menu_prompt").state == MACHINE_DRAFT  # the others as they were
    loaded = Texts.load(registry.codes, registry.default, texts, registry.numbers_first)
    assert loaded.get("greet", "fr") == corrected and loaded.reviewed("fr").reviewed == 1
    assert TRANSLATOR in loaded.reviewed("fr").describe()
    # out again: the review goes with it, and back once more nothing changes
    export(texts, po, ["fr"])
    greet = next(m for m in catalog(po / "fr.po") if m.context == "greet")
    assert not greet.fuzzy and any("reviewed" in c for c in greet.user_comments)
    assert import_(po, texts, registry) == []


def test_clearing_the_fuzzy_flag_marks_a_text_reviewed_and_setting_it_a_draft_again(place, registry):
    texts, po = place
    plain = text_files.read(texts / "plain" / "es.yml")
    key = next(iter(plain.texts))
    translated(po / "es.po", PLAIN + key, plain.texts[key])  # checked, found right: unchanged
    import_(po, texts, registry)
    assert text_files.read(texts / "plain" / "es.yml").review_of(key).state == REVIEWED
    edited = catalog(po / "es.po")
    next(m for m in edited if m.context == PLAIN + key).flags.add("fuzzy")
    save(po / "es.po", edited)
    import_(po, texts, registry)
    assert text_files.read(texts / "plain" / "es.yml").review_of(key).state == MACHINE_DRAFT


def test_a_numbers_first_text_left_empty_falls_back_and_filled_in_again_is_reviewed(place, registry):
    texts, po = place
    czech = text_files.read(texts / "numbers" / "cs.yml")
    key, text = "crisis_kind", czech.texts["crisis_kind"]
    translated(po / "cs.po", key, "", fuzzy=True)  # a translator who found the draft wrong, with nothing better yet
    import_(po, texts, registry)
    assert key not in text_files.read(texts / "numbers" / "cs.yml").texts
    loaded = Texts.load(registry.codes, registry.default, texts, registry.numbers_first)
    assert loaded.get(key, "cs") == loaded.get(key, "en")  # the fallback's words, never nothing
    translated(po / "cs.po", key, text)
    import_(po, texts, registry)
    assert text_files.read(texts / "numbers" / "cs.yml").review_of(key) == text_files.Review(
        REVIEWED, TRANSLATOR, "2026-12-08"
    )


@pytest.mark.parametrize(
    "context, text, words",
    [
        ("helpline_contact", "{nom} peut t'aider. {how} {notes}", "placeholders"),
        ("greet", "", "missing"),  # a full language's text may not be emptied
        ("greet", "Salut ! " + "ça va ? " * 30, "SMS segments"),  # "ç": UCS-2, 67 a segment
        ("greet", "x" * 301, "characters"),
    ],
)
def test_a_broken_translation_is_refused_naming_the_file_and_line_and_nothing_is_written(
    place, registry, context, text, words
):
    texts, po = place
    before = contents(texts)
    translated(po / "fr.po", context, text)
    lines = (po / "fr.po").read_text(encoding="utf-8").splitlines()
    line = lines.index(f'msgctxt "{context}"') + 1
    with pytest.raises(ConfigError) as caught:
        import_(po, texts, registry)
    assert words in str(caught.value) and context in str(caught.value)
    assert caught.value.path == str(po / "fr.po") and caught.value.line is not None
    assert line <= caught.value.line <= line + 3  # the entry's
    assert contents(texts) == before


def test_a_review_needs_a_reviewer(place, registry):
    texts, po = place
    edited = catalog(po / "de.po")
    next(m for m in edited if m.context == "greet").flags.discard("fuzzy")
    save(po / "de.po", edited)  # Last-Translator left as exported
    with pytest.raises(ConfigError, match="Last-Translator"):
        import_(po, texts, registry)


def test_a_po_file_of_an_unknown_language_or_text_is_refused(place, registry):
    texts, po = place
    shutil.copy(po / "fr.po", po / "xx.po")
    with pytest.raises(ConfigError, match="'xx' is not a language"):
        import_(po, texts, registry)
    (po / "xx.po").unlink()
    edited = catalog(po / "fr.po")
    edited.add("Hello", "Bonjour", context="no_such_text")
    save(po / "fr.po", edited)
    with pytest.raises(ConfigError, match="unknown context"):
        import_(po, texts, registry)
