"""The words children read, one YAML file per language in ``data/texts/`` (bot.language.text_files:
each text with its review state).

Every language file must have the same keys and the same ``{placeholders}`` as the default
language's, and every text must fit one SMS-sized message (its schema, ``bot/datafiles/schemas/
texts.yml``); a broken file stops start-up with an error naming the file, the line and the key, so
no child ever gets a half-translated bot.

``data/texts/plain/<lang>.yml`` holds plain-language versions (shorter sentences, everyday words)
of some texts, for children who switch to them; a text without one is used as it is.

``data/texts/numbers/<lang>.yml`` holds the few texts of a numbers-first language (one the bot
recognises but does not fully speak), with their review state. A text it lacks comes in the
language the turn falls back to (``falling_back_to``: the country's full language, else the default).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import ContextManager, Iterable, Iterator, Optional, TypeVar

from bot import DATA_DIR
from bot.datafiles.yamlfile import ConfigError
from bot.language.detection import fold
from bot.language.text_files import REVIEWED, TextFile, read

MAX_TEXT_CHARS = 300  # the schema's maxLength: one SMS-sized message
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# A phrase in quotes within a text ('delete my data', «cancella i miei dati», 「データを消して」). A
# straight quote only opens or closes next to a non-Latin-letter, so an apostrophe inside ("mba'e") stays in.
_LATIN = "A-Za-z\u00c0-\u024f"
_QUOTE_PAIRS = (
    ('"', '"'), ("'", "'"), ("”", "”"), ("«", "»"), ("»", "«"), ("„", "“"), ("„", "”"), ("“", "”"), ("‘", "’"),
    ("「", "」"), ("『", "』"),
)  # fmt: skip
_QUOTED = re.compile(
    "|".join(
        rf"(?<![{_LATIN}]){re.escape(o)}(.{{2,40}}?){re.escape(c)}(?![{_LATIN}])"
        if o == c
        else rf"{re.escape(o)}(.{{2,40}}?){re.escape(c)}"
        for o, c in _QUOTE_PAIRS
    )
)
_T = TypeVar("_T")
_PLAIN: ContextVar[bool] = ContextVar("plain_language", default=False)
_FALLBACK: ContextVar[Optional[str]] = ContextVar("fallback_language", default=None)


@dataclass(frozen=True)
class Reviewed:
    """How much of a language's texts native speakers have checked (the README and the admin page)."""

    texts: int
    reviewed: int
    by: tuple[str, ...]  # the reviewers, each once
    drafted_by: tuple[str, ...]  # who wrote the drafts not yet reviewed

    def describe(self) -> str:
        if self.reviewed == 0:
            return f"machine draft (0 of {self.texts} texts reviewed)"
        who = ", ".join(self.by)
        if self.reviewed == self.texts:
            return f"reviewed by {who}"
        return f"{self.reviewed} of {self.texts} texts reviewed (by {who}); the rest machine draft"


class Texts:
    """Looks up and fills in the text for a key in a language."""

    def __init__(
        self,
        by_language: dict[str, dict[str, str]],
        default: str,
        plain: Optional[dict[str, dict[str, str]]] = None,
        numbers_first: Optional[dict[str, dict[str, str]]] = None,
        files: Optional[dict[str, list[TextFile]]] = None,
    ) -> None:
        """``files``: each language's text files as read, for who checked them (:meth:`reviewed`)."""
        self._by_language = by_language
        self._plain = plain or {}
        self._numbers_first = numbers_first or {}
        self._files = files or {}
        self.default = default

    @classmethod
    def load(
        cls,
        languages: Iterable[str],
        default: str,
        folder: Path = DATA_DIR / "texts",
        numbers_first: Iterable[str] = (),
    ) -> "Texts":
        languages = list(languages)
        files = {lang: read(folder / f"{lang}.yml") for lang in languages}
        reference = files[default]
        for source in files.values():
            _check(source, reference, every_key=True)
        plain = {lang: read(path) for lang in languages if (path := folder / "plain" / f"{lang}.yml").exists()}
        for lang, source in plain.items():
            _check(source, files[lang])
        partial = {lang: read(folder / "numbers" / f"{lang}.yml") for lang in numbers_first}
        for source in partial.values():
            _check(source, reference)
        return cls(
            {lang: source.texts for lang, source in files.items()},
            default,
            {lang: source.texts for lang, source in plain.items()},
            {lang: source.texts for lang, source in partial.items()},
            {lang: [files[lang], *([plain[lang]] if lang in plain else [])] for lang in languages}
            | {lang: [source] for lang, source in partial.items()},
        )

    def reviewed(self, language: str) -> Reviewed:
        """Who checked ``language``'s texts (its plain-language versions included)."""
        reviews = [f.review_of(key) for f in self._files.get(language, []) for key in f.texts]
        done = [r for r in reviews if r.state == REVIEWED]
        return Reviewed(
            len(reviews),
            len(done),
            tuple(dict.fromkeys(r.by for r in done)),
            tuple(dict.fromkeys(r.by for r in reviews if r.state != REVIEWED)),
        )

    def get(self, key: str, language: str, **values: object) -> str:
        """The text for ``key`` in ``language`` (or the default language), with values filled in;
        its plain-language version while ``plain_language()`` is on and one exists."""
        own = self._numbers_first.get(language, {}).get(key)
        if own is not None:
            return own.format(**values).strip()
        if language not in self._by_language:
            language = _FALLBACK.get() or self.default
        text = self._plain.get(language, {}).get(key) if _PLAIN.get() else None
        return (text or self._by_language[language][key]).format(**values).strip()

    def delete_phrase(self, language: str) -> Optional[str]:
        """The words the privacy notice tells a child to write to delete everything ('delete my
        data', in ``language``): the phrase it quotes."""
        match = _QUOTED.search(self.get("privacy_notice", language, days=0))
        return next((group for group in match.groups() if group), None) if match else None

    def asks_to_delete(self, text: str, language: str) -> bool:
        """Whether ``text`` holds :meth:`delete_phrase`: the notice's promise, kept in every language."""
        phrase = self.delete_phrase(language)
        return phrase is not None and fold(phrase) in fold(text)

    def has(self, key: str, language: str) -> bool:
        """Whether ``language`` words ``key`` itself (a numbers-first language may not yet)."""
        return key in self._by_language.get(language, self._numbers_first.get(language, {}))

    @staticmethod
    def falling_back_to(language: str) -> ContextManager[None]:
        """Within this block, a text a numbers-first language lacks comes in ``language``."""
        return _holding(_FALLBACK, language)

    @staticmethod
    def plain_language(on: bool) -> ContextManager[None]:
        """Within this block (one turn of one child), texts come in plain language if ``on``."""
        return _holding(_PLAIN, on)


@contextmanager
def _holding(setting: ContextVar[_T], value: _T) -> Iterator[None]:
    """``setting`` is ``value`` within the block (this task's, so concurrent turns don't mix)."""
    token = setting.set(value)
    try:
        yield
    finally:
        setting.reset(token)


def _check(source: TextFile, reference: TextFile, every_key: bool = False) -> None:
    """Keys of the reference language only (each of them, if ``every_key``), same placeholders."""
    assert source.source is not None  # as read
    texts, name = source.source.data["texts"], reference.path.name
    if every_key:
        for key in reference.texts:
            if key not in texts:
                raise ConfigError(source.path, None, f"texts.{key}", f"missing (it is in {name})")
    for key, value in texts.items():
        if key not in reference.texts:
            raise source.source.error(texts, key, f"texts.{key}", f"unknown key (not in {name})")
        found, expected = set(_PLACEHOLDER.findall(value)), set(_PLACEHOLDER.findall(reference.texts[key]))
        if found != expected:
            raise source.source.error(
                texts, key, f"texts.{key}", f"placeholders {sorted(found)} differ from {sorted(expected)} in {name}"
            )
