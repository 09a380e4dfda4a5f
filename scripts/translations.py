"""Children's texts out to translators and back: one gettext PO file per language.

``python -m scripts.translations export DIR`` (``make texts-export``) writes ``DIR/<lang>.po``
for every language: each text with its key as the context (``plain:<key>`` for a plain-language
version), the English text as the source, the language's text as the translation, and its review
state (bot.language.text_files) as a comment; a machine draft is flagged ``fuzzy``, which every PO
tool (Poedit, Weblate, Lokalise...) shows as "needs review". A text a numbers-first language does
not have yet, or a plain version a language lacks, comes with an empty translation to fill in.

``python -m scripts.translations import DIR`` (``make texts-import``) reads them back. A text a
translator changed, or whose ``fuzzy`` flag they cleared, becomes *reviewed* by the PO file's
``Last-Translator`` on its ``PO-Revision-Date`` (which PO tools fill in when saving); a text flagged
``fuzzy`` is a machine draft. Every text is checked before anything is written: its placeholders
as in English, not empty, at most 300 characters and 3 SMS segments of its alphabet; then the
whole set is loaded as the bot loads it. An error names the PO file, the line and the text's key.
Exported and imported unchanged, every text file stays the same, byte for byte.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Optional

from babel.core import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po, write_po

from bot import DATA_DIR
from bot.conversation.sms import segments
from bot.datafiles.yamlfile import ConfigError
from bot.language import text_files
from bot.language.detection import LanguageRegistry
from bot.language.text_files import MACHINE_DRAFT, REVIEWED, Review, TextFile
from bot.language.texts import MAX_TEXT_CHARS, Texts

HEADER = """\
# Helpline Connector: the texts children read, in {code}. Each text: the English source, then yours.
# "fuzzy" marks a machine draft. Once a native speaker has checked a text (and corrected it), clear
# its "fuzzy" flag; set Last-Translator to your name. Keep every {{placeholder}}, keep texts short
# (at most 3 SMS segments), simple and warm: the readers are children of 10 to 17, some in danger.
# Then: make texts-import (see README, "Translations")."""
PLAIN = "plain:"  # the context prefix of a plain-language version
MAX_SEGMENTS = 3
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# "review: machine draft | by: ... | date: 2026-11-29", which PO writers may wrap onto several lines
_REVIEW_NOTE = re.compile(r"review: (?P<state>machine draft|reviewed) \| by: ?(?P<by>.*?) \| date: ?(?P<date>\S*)\s*$")
_UNSET_TRANSLATOR = {"", "FULL NAME <EMAIL@ADDRESS>"}


class Language:
    """One language's text files: its texts (a full or a numbers-first language's) and plain versions."""

    def __init__(self, code: str, folder: Path) -> None:
        own = folder / f"{code}.yml"
        self.code, self.full = code, own.exists()
        self.texts = text_files.read(own if self.full else folder / "numbers" / f"{code}.yml")
        plain = folder / "plain" / f"{code}.yml"
        self.plain = text_files.read(plain) if self.full and plain.exists() else None

    def files(self) -> list[TextFile]:
        return [self.texts, *([self.plain] if self.plain else [])]


def export(folder: Path, out: Path, codes: Iterable[str], default: str = "en") -> list[Path]:
    """Write ``out/<lang>.po`` for each language; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    source = Language(default, folder)
    numbers_keys = {key for path in (folder / "numbers").glob("*.yml") for key in text_files.read(path).texts}
    written = []
    for code in codes:
        language = Language(code, folder)
        catalog = Catalog(
            locale=_locale(code),
            project="Helpline Connector",
            header_comment=HEADER.format(code=code),
            fuzzy=False,
        )
        keys = list(source.texts.texts) if language.full else [k for k in source.texts.texts if k in numbers_keys]
        for key in keys:
            _add(catalog, key, source.texts.texts[key], language.texts, key)
        if language.full:
            plain_keys = {
                *(source.plain.texts if source.plain else {}),
                *(language.plain.texts if language.plain else {}),
            }
            for key in (k for k in source.texts.texts if k in plain_keys):
                english = source.plain.texts.get(key) if source.plain else None
                _add(catalog, PLAIN + key, english or source.texts.texts[key], language.plain, key)
        path = out / f"{code}.po"
        with path.open("wb") as po:
            write_po(po, catalog, width=0, omit_header=False)
        written.append(path)
    return written


def _locale(code: str) -> Optional[Locale]:
    try:
        return Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return None


def _add(catalog: Catalog, context: str, english: str, file: Optional[TextFile], key: str) -> None:
    text = file.texts.get(key, "") if file else ""
    notes = [f"placeholders: {' '.join(sorted(set(_PLACEHOLDER.findall(english))))}"] if "{" in english else []
    notes.append(f"at most {MAX_TEXT_CHARS} characters and {MAX_SEGMENTS} SMS segments")
    if context.startswith(PLAIN):
        notes.append("plain language: very short sentences, everyday words, one idea each")
    review = file.review_of(key) if file and text else None
    comments = [f"review: {review.state} | by: {review.by} | date: {review.date}"] if review else []
    flags = ["fuzzy"] if review and review.state != REVIEWED else []
    catalog.add(english, text, context=context, auto_comments=notes, user_comments=comments, flags=flags)


def import_(po_folder: Path, folder: Path, registry: LanguageRegistry) -> list[Path]:
    """Read ``po_folder/<lang>.po`` back into ``folder``'s text files; the files changed. Nothing is
    written unless every file is valid (ConfigError naming the PO file, line and key)."""
    changed: list[TextFile] = []
    for po in sorted(po_folder.glob("*.po")):
        code = po.stem
        if code not in registry.recognised_codes:
            raise ConfigError(po, None, "Language", f"'{code}' is not a language of data/languages.yml")
        changed += _read_back(po, Language(code, folder), Language(registry.default, folder))
    with tempfile.TemporaryDirectory() as scratch:
        trial = Path(scratch) / "texts"
        shutil.copytree(folder, trial)
        for file in changed:
            text_files.write(replace(file, path=trial / file.path.relative_to(folder)))
        try:
            Texts.load(registry.codes, registry.default, trial, registry.numbers_first)  # as the bot would
        except ConfigError as error:  # named as the file it would have become
            path = folder / Path(error.path).relative_to(trial)
            raise ConfigError(path, error.line, error.field, error.problem) from error
    for file in changed:
        text_files.write(file)
    return [file.path for file in changed]


def _read_back(po: Path, language: Language, source: Language) -> list[TextFile]:
    with po.open("rb") as handle:
        try:
            catalog = read_po(handle, abort_invalid=True)
        except PoFileError as error:
            raise ConfigError(po, None, "", f"not a readable PO file ({error})") from error
    translator = (catalog.last_translator or "").strip()
    revised = catalog.revision_date
    day = revised.date().isoformat() if isinstance(revised, datetime) else date.today().isoformat()
    files = {False: language.texts, True: language.plain}
    texts: dict[bool, dict[str, str]] = {plain: dict(f.texts) for plain, f in files.items() if f}
    reviews: dict[bool, dict[str, Review]] = {plain: {} for plain in texts}
    for message in catalog:
        if not message.id:
            continue  # the header
        context = message.context or ""
        plain, key = context.startswith(PLAIN), context.removeprefix(PLAIN)
        file = files.get(plain)
        if file is None or key not in source.texts.texts:
            raise ConfigError(po, message.lineno, context, "not a text of this language (unknown context)")
        text = str(message.string or "")
        if not text:
            if language.full and not plain:
                raise ConfigError(po, message.lineno, context, "missing: a full language needs every text")
            texts[plain].pop(key, None)  # a numbers-first language's or a plain version: the fallback's
            continue
        _check(po, message.lineno, context, text, str(message.id))
        before = file.review_of(key) if key in file.texts else None
        noted = _REVIEW_NOTE.search(" ".join(message.user_comments))
        prior = Review(noted["state"], noted["by"], noted["date"]) if noted else before
        if message.fuzzy:
            review = Review(MACHINE_DRAFT, prior.by if prior else translator, prior.date if prior else day)
        elif prior is not None and prior.state == REVIEWED and text == file.texts.get(key):
            review = prior
        elif translator in _UNSET_TRANSLATOR:
            raise ConfigError(po, message.lineno, context, "reviewed by whom? Set the PO file's Last-Translator")
        else:
            review = Review(REVIEWED, translator, day)
        texts[plain][key] = text
        reviews[plain][key] = review
    changed = []
    for plain, file in files.items():
        if file is None:
            continue
        own = {k: r for k, r in file.reviews.items() if k in texts[plain] and k not in reviews[plain]}
        own |= {k: r for k, r in reviews[plain].items() if r != file.review}
        ordered = {key: own[key] for key in texts[plain] if key in own}
        new = TextFile(file.path, file.header, file.review, texts[plain], ordered)
        if text_files.render(new) != text_files.render(file):
            changed.append(new)
    return changed


def _check(po: Path, line: Optional[int], context: str, text: str, english: str) -> None:
    """What every text must be before it reaches a child."""
    found, wanted = set(_PLACEHOLDER.findall(text)), set(_PLACEHOLDER.findall(english))
    if found != wanted:
        raise ConfigError(po, line, context, f"placeholders {sorted(found)} differ from the English {sorted(wanted)}")
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(po, line, context, f"{len(text)} characters: at most {MAX_TEXT_CHARS}")
    counted = segments(text)
    if counted.count > MAX_SEGMENTS:
        raise ConfigError(
            po, line, context, f"{counted.count} SMS segments ({counted.encoding}): at most {MAX_SEGMENTS}"
        )


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.translations", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["export", "import"])
    parser.add_argument("folder", type=Path, help="where the PO files are written to or read from")
    args = parser.parse_args(argv)
    registry, texts = LanguageRegistry(), DATA_DIR / "texts"
    try:
        if args.action == "export":
            paths = export(texts, args.folder, registry.recognised_codes, registry.default)
            print(f"{len(paths)} PO files in {args.folder}")
        else:
            paths = import_(args.folder, texts, registry)
            print(f"{len(paths)} text files changed" + "".join(f"\n  {p}" for p in paths))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
