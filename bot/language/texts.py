"""The words children read, one YAML file per language in ``data/texts/``.

Every language file must have the same keys and the same ``{placeholders}`` as the default
language's, and every text must fit one SMS-sized message (its schema, ``bot/datafiles/schemas/
texts.yml``); a broken file stops start-up with an error naming the file, the line and the key, so
no child ever gets a half-translated bot.

``data/texts/plain/<lang>.yml`` holds plain-language versions (shorter sentences, everyday words)
of some texts, for children who switch to them; a text without one is used as it is.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Iterable, Iterator, Optional

from bot import DATA_DIR
from bot.datafiles.schema import load_validated
from bot.datafiles.yamlfile import ConfigError, YamlFile

MAX_TEXT_CHARS = 300  # the schema's maxLength: one SMS-sized message
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_PLAIN: ContextVar[bool] = ContextVar("plain_language", default=False)


class Texts:
    """Looks up and fills in the text for a key in a language."""

    def __init__(
        self, by_language: dict[str, dict[str, str]], default: str, plain: Optional[dict[str, dict[str, str]]] = None
    ) -> None:
        self._by_language = by_language
        self._plain = plain or {}
        self.default = default

    @classmethod
    def load(cls, languages: Iterable[str], default: str, folder: Path = DATA_DIR / "texts") -> "Texts":
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
        return cls({lang: dict(source.data) for lang, source in files.items()}, default, plain)

    def get(self, key: str, language: str, **values: object) -> str:
        """The text for ``key`` in ``language`` (or the default language), with values filled in;
        its plain-language version while ``plain_language()`` is on and one exists."""
        if language not in self._by_language:
            language = self.default
        text = self._plain.get(language, {}).get(key) if _PLAIN.get() else None
        return (text or self._by_language[language][key]).format(**values).strip()

    @staticmethod
    @contextmanager
    def plain_language(on: bool) -> Iterator[None]:
        """Within this block (one turn of one child), texts come in plain language if ``on``."""
        token = _PLAIN.set(on)
        try:
            yield
        finally:
            _PLAIN.reset(token)


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
