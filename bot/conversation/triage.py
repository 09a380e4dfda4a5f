"""The crisis safety net: self-harm and danger-now phrases caught without the classifier.

A statistical model misses some crisis messages, and a missed "i want to die" is the failure
this product must not have. So every message is also checked against per-language phrase lists
(``data/crisis/<lang>.yml``, regular expressions over folded text). The lists of all languages
run on every message, because the language of a short message may be misjudged. ``not_crisis``
patterns (everyday phrases such as "this homework is killing me") are blanked out before the
crisis lists run, so an idiom says nothing but the rest of its message still counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable, Optional

from bot import DATA_DIR
from bot.conversation.needs import CRISIS_NEEDS
from bot.datafiles.schema import load_validated
from bot.datafiles.yamlfile import YamlFile
from bot.language.detection import fold

CRISIS_INTENTS = CRISIS_NEEDS  # checked in this order (the needs table's): danger first
# Then sexual images and threats to share them: listed for the numbers-first languages, where no
# intent classifier knows the words (the full languages' classifiers learn them from data/nlu).
_LISTED = (*CRISIS_INTENTS, "online_sexual_abuse")
_KINDS = (*_LISTED, "not_crisis")


@dataclass(frozen=True)
class CrisisMatch:
    intent: str
    language: str  # whose list matched


class CrisisNet:
    """Compiled phrase lists of every language."""

    def __init__(self, patterns: dict[str, dict[str, re.Pattern[str]]]) -> None:
        self._patterns = patterns  # kind -> language -> alternation

    @classmethod
    def load(cls, languages: Iterable[str], folder: Path = DATA_DIR / "crisis") -> "CrisisNet":
        patterns: dict[str, dict[str, re.Pattern[str]]] = {kind: {} for kind in _KINDS}
        for language in languages:
            source = load_validated(folder / f"{language}.yml", "crisis")
            for kind in _KINDS:
                compiled = _compile(source, kind)
                if compiled:
                    patterns[kind][language] = compiled
        return cls(patterns)

    def without_idioms(self, text: str) -> str:
        """The message folded, with everyday idioms blanked: "dying of laughter" says nothing, the rest still counts."""
        folded = fold(text)
        for idiom in self._patterns["not_crisis"].values():
            folded = idiom.sub(" ", folded)
        return folded

    def check(self, text: str, among: Optional[Collection[str]] = None) -> Optional[CrisisMatch]:
        """The crisis a message speaks of, or None; everyday idioms are ignored, not the whole
        message. ``among``: only these languages' lists (all if None)."""
        folded = self.without_idioms(text)
        for intent in _LISTED:
            for language, pattern in self._patterns[intent].items():
                if (among is None or language in among) and pattern.search(folded):
                    return CrisisMatch(intent, language)
        return None


def overrule(intent: Optional[str], match: Optional[CrisisMatch]) -> Optional[str]:
    """The intent to act on: the classifier's crisis intent, else the net's, else the classifier's."""
    if intent in CRISIS_INTENTS or match is None:
        return intent
    return match.intent


def _compile(source: YamlFile, kind: str) -> Optional[re.Pattern[str]]:
    entries = source.data.get(kind, [])  # a list of patterns (the schema); each must compile once folded
    for i, entry in enumerate(entries):
        try:
            re.compile(_fold_pattern(entry))
        except re.error as exc:
            problem = f"pattern {entry!r} is not a valid expression ({exc})"
            raise source.error(source.data, kind, f"{kind}[{i}]", problem) from exc
    if not entries:
        return None
    return re.compile("|".join(f"(?:{_fold_pattern(e)})" for e in entries))


def _fold_pattern(pattern: str) -> str:
    """Fold a pattern like the text it runs on, leaving escapes such as \\b and \\S as written."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        else:
            out.append(fold(pattern[i]))
            i += 1
    return "".join(out)
