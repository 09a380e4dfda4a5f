"""Prepared replies counsellors send from the operator console, one YAML file per language in ``data/canned/``.

A counsellor may not read the child's language, so every language must have every reply (and no
others), and the console shows each one next to its English meaning. Replies go out as they are
written, by SMS too, so each must be non-empty, fit one SMS-sized message and carry no
``{placeholder}`` that would reach the child unfilled (its schema, ``bot/datafiles/schemas/canned.yml``).
A broken file stops start-up with an error naming the file, the line and the reply, so no child gets
half a reply or the wrong language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from bot import DATA_DIR
from bot.datafiles.schema import load_validated
from bot.datafiles.yamlfile import YamlFile

CANNED_DIR = DATA_DIR / "canned"
ENGLISH = "en"  # the reference file, and the meaning shown to counsellors


class CannedReplies:
    """Replies by language, in the English file's order."""

    def __init__(self, by_language: dict[str, dict[str, str]]) -> None:
        self._by_language = by_language
        self.keys = list(by_language[ENGLISH])

    @classmethod
    def load(cls, languages: Iterable[str], folder: Path = CANNED_DIR) -> "CannedReplies":
        """Load and check every language's file against the English one; raise ConfigError at the first defect."""
        codes = list(dict.fromkeys([ENGLISH, *languages]))
        files = {lang: load_validated(folder / f"{lang}.yml", "canned") for lang in codes}
        reference = _replies(files[ENGLISH])
        replies = {ENGLISH: reference}
        for lang in codes[1:]:
            source = files[lang]
            found = _replies(source)
            for key in reference:
                if key not in found:
                    raise source.error(source.data, "replies", f"replies.{key}", f"missing (it is in {ENGLISH}.yml)")
            for key in found:
                if key not in reference:
                    raise source.error(
                        source.data["replies"], key, f"replies.{key}", f"unknown reply (not in {ENGLISH}.yml)"
                    )
            replies[lang] = {key: found[key] for key in reference}
        return cls(replies)

    def for_language(self, language: str) -> list[tuple[str, str]]:
        """(key, text) pairs to offer for a conversation in ``language``; English if we have no such language."""
        table = self._by_language.get(language, self._by_language[ENGLISH])
        return [(key, table[key]) for key in self.keys]

    def english(self, key: str) -> str:
        """What a reply means, for a counsellor who does not read the child's language."""
        return self._by_language[ENGLISH][key]


def _replies(source: YamlFile) -> dict[str, str]:
    """The file's replies (each checked by the schema), as sent."""
    return {str(key): text.strip() for key, text in source.data["replies"].items()}
