"""The words children read, one YAML file per language in ``data/texts/``.

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
from bot.datafiles.schema import load_validated
from bot.datafiles.yamlfile import ConfigError, YamlFile
from bot.language.detection import fold

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
class Review:
    """Who checked a language's texts: a machine draft until a native speaker has reviewed them."""

    state: str  # "machine draft" | "reviewed"
    by: str
    date: str


class Texts:
    """Looks up and fills in the text for a key in a language."""

    def __init__(
        self,
        by_language: dict[str, dict[str, str]],
        default: str,
        plain: Optional[dict[str, dict[str, str]]] = None,
        numbers_first: Optional[dict[str, dict[str, str]]] = None,
        reviews: Optional[dict[str, Review]] = None,
    ) -> None:
        self._by_language = by_language
        self._plain = plain or {}
        self._numbers_first = numbers_first or {}
        self.reviews = reviews or {}
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
        files = {lang: load_validated(folder / f"{lang}.yml", "texts") for lang in languages}
        reference = files[default]
        expected = {key: set(_PLACEHOLDER.findall(value)) for key, value in reference.data.items()}
        for source in files.values():
            for key in expected:
                if key not in source.data:
                    raise ConfigError(source.path, None, key, f"missing (it is in {reference.path.name})")
                found = set(_PLACEHOLDER.findall(source.data[key]))
                if found != expected[key]:
                    raise source.error(
                        source.data,
                        key,
                        key,
                        f"placeholders {sorted(found)} differ from {sorted(expected[key])} in {reference.path.name}",
                    )
            for key in source.data:
                if key not in expected:
                    raise source.error(source.data, key, key, f"unknown key (not in {reference.path.name})")
        plain = {lang: _plain_texts(folder / "plain" / f"{lang}.yml", files[lang]) for lang in languages}
        partial: dict[str, dict[str, str]] = {}
        reviews: dict[str, Review] = {}
        for lang in numbers_first:
            partial[lang], reviews[lang] = _numbers_first_texts(folder / "numbers" / f"{lang}.yml", reference)
        return cls({lang: dict(source.data) for lang, source in files.items()}, default, plain, partial, reviews)

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


def _numbers_first_texts(path: Path, reference: YamlFile) -> tuple[dict[str, str], Review]:
    """A numbers-first language's texts: keys of the reference language, same placeholders."""
    source = load_validated(path, "numbers_texts")
    texts = source.data["texts"]
    for key, value in texts.items():
        if key not in reference.data:
            raise source.error(texts, key, f"texts.{key}", f"unknown key (not in {reference.path.name})")
        if set(_PLACEHOLDER.findall(value)) != set(_PLACEHOLDER.findall(reference.data[key])):
            raise source.error(texts, key, f"texts.{key}", f"placeholders differ from {reference.path.name}")
    review = source.data["review"]
    return dict(texts), Review(review["state"], review.get("by", ""), str(review.get("date", "")))


def _plain_texts(path: Path, regular: YamlFile) -> dict[str, str]:
    """The plain versions of some of a language's texts: known keys, same placeholders."""
    if not path.exists():
        return {}
    source = load_validated(path, "texts")
    for key, value in source.data.items():
        if key not in regular.data:
            raise source.error(source.data, key, str(key), f"unknown key (not in {regular.path.name})")
        if set(_PLACEHOLDER.findall(value)) != set(_PLACEHOLDER.findall(regular.data[key])):
            raise source.error(source.data, key, str(key), f"placeholders differ from {regular.path.name}")
    return dict(source.data)
