"""The words children read, one YAML file per language in ``data/texts/``.

Every language file must have the same keys and the same ``{placeholders}`` as the default
language's, and every text must fit one SMS-sized message; a broken file stops start-up with an
error naming the file, the line and the key, so no child ever gets a half-translated bot.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Iterable

from bot import DATA_DIR
from bot.yamlfile import ConfigError, YamlFile, load_mapping

MAX_TEXT_CHARS = 300
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Texts:
    """Looks up and fills in the text for a key in a language."""

    def __init__(self, by_language: dict[str, dict[str, str]], default: str) -> None:
        self._by_language = by_language
        self.default = default

    @classmethod
    def load(cls, languages: Iterable[str], default: str, folder: Path = DATA_DIR / "texts") -> "Texts":
        languages = list(languages)
        files = {lang: load_mapping(folder / f"{lang}.yml") for lang in languages}
        reference = files[default]
        _check_values(reference)
        expected = {key: set(_PLACEHOLDER.findall(value)) for key, value in reference.data.items()}
        for lang, source in files.items():
            _check_values(source)
            for key in expected:
                if key not in source.data:
                    raise ConfigError(source.path, None, key, f"missing (it is in {reference.path.name})")
                found = set(_PLACEHOLDER.findall(source.data[key]))
                if found != expected[key]:
                    raise source.error(
                        source.data, key, key,
                        f"placeholders {sorted(found)} differ from {sorted(expected[key])} in {reference.path.name}",
                    )
            for key in source.data:
                if key not in expected:
                    raise source.error(source.data, key, key, f"unknown key (not in {reference.path.name})")
        return cls({lang: dict(source.data) for lang, source in files.items()}, default)

    def get(self, key: str, language: str, **values: object) -> str:
        """The text for ``key`` in ``language`` (or the default language), with values filled in."""
        table = self._by_language.get(language, self._by_language[self.default])
        return table[key].format(**values).strip()


def _check_values(source: YamlFile) -> None:
    for key, value in source.data.items():
        if not isinstance(value, str) or not value.strip():
            raise source.error(source.data, key, str(key), "must be a non-empty text")
        if len(value) > MAX_TEXT_CHARS:
            raise source.error(source.data, key, str(key), f"is {len(value)} characters; the limit is {MAX_TEXT_CHARS}")
        try:
            list(string.Formatter().parse(value))
        except ValueError as exc:
            raise source.error(source.data, key, str(key), f"has a broken placeholder ({exc})") from exc
