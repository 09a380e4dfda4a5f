"""The crisis safety net: self-harm and danger-now phrases caught without the classifier.

A statistical model misses some crisis messages, and a missed "i want to die" is the failure
this product must not have. So every message is also checked against per-language phrase lists
(``data/crisis/<lang>.yml``, regular expressions over folded text). The lists of all languages
run on every message, because the language of a short message may be misjudged. ``not_crisis``
patterns (everyday phrases such as "this homework is killing me") are blanked out before the
crisis lists run, so an idiom says nothing but the rest of its message still counts.

Running every list on every message costs milliseconds, so each list is split by the script a
match must contain (a Thai phrase cannot match a message with no Thai letters; the proof is read off
the parsed pattern, see :func:`needs_script`) and a message only meets the parts written in its
scripts, plus the parts that could match any text. That gives the same answer as running them all.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable, Optional

from bot import DATA_DIR
from bot.conversation.needs import CRISIS_NEEDS
from bot.datafiles.schema import load_validated
from bot.datafiles.yamlfile import YamlFile
from bot.language.detection import fold
from bot.language.ngram import char_script
from bot.language.regex_scripts import needs_script

CRISIS_INTENTS = CRISIS_NEEDS  # checked in this order (the needs table's): danger first
# Then sexual images and threats to share them: listed for the numbers-first languages, where no
# intent classifier knows the words (the full languages' classifiers learn them from data/nlu).
_LISTED = (*CRISIS_INTENTS, "online_sexual_abuse")
_KINDS = (*_LISTED, "not_crisis")


@dataclass(frozen=True)
class CrisisMatch:
    intent: str
    language: str  # whose list matched


# A part of a list: its patterns that need a letter of one of these scripts (None: any text).
_Part = tuple[Optional[frozenset[str]], re.Pattern[str]]


class CrisisNet:
    """Compiled phrase lists of every language."""

    def __init__(self, patterns: dict[str, dict[str, list[_Part]]]) -> None:
        self._patterns = patterns  # kind -> language -> parts of its list

    @classmethod
    def load(cls, languages: Iterable[str], folder: Path = DATA_DIR / "crisis") -> "CrisisNet":
        patterns: dict[str, dict[str, list[_Part]]] = {kind: {} for kind in _KINDS}
        for language in languages:
            source = load_validated(folder / f"{language}.yml", "crisis")
            for kind in _KINDS:
                parts = _compile(source, kind)
                if parts:
                    patterns[kind][language] = parts
        return cls(patterns)

    def without_idioms(self, text: str) -> str:
        """The message folded, with everyday idioms blanked: "dying of laughter" says nothing, the rest still counts."""
        folded = fold(text)
        return self._blank_idioms(folded, _scripts(folded))

    def _blank_idioms(self, folded: str, scripts: frozenset[str]) -> str:
        for parts in self._patterns["not_crisis"].values():
            for needs, idiom in parts:
                if needs is None or needs & scripts:
                    folded = idiom.sub(" ", folded)
        return folded

    def check(self, text: str, among: Optional[Collection[str]] = None) -> Optional[CrisisMatch]:
        """The crisis a message speaks of, or None; everyday idioms are ignored, not the whole
        message. ``among``: only these languages' lists (all if None)."""
        folded = fold(text)
        scripts = _scripts(folded)  # blanking idioms takes letters away, never adds a script: still sound
        folded = self._blank_idioms(folded, scripts)
        for intent in _LISTED:
            for language, parts in self._patterns[intent].items():
                if among is not None and language not in among:
                    continue
                if any((needs is None or needs & scripts) and pattern.search(folded) for needs, pattern in parts):
                    return CrisisMatch(intent, language)
        return None


def overrule(intent: Optional[str], match: Optional[CrisisMatch]) -> Optional[str]:
    """The intent to act on: the classifier's crisis intent, else the net's, else the classifier's."""
    if intent in CRISIS_INTENTS or match is None:
        return intent
    return match.intent


def _compile(source: YamlFile, kind: str) -> list[_Part]:
    """A list's patterns, folded, as one alternation per script they need. Idioms stay one
    alternation (skipped only when none of them could match): they blank what they match, and
    which of two overlapping idioms wins must not depend on the split."""
    entries = source.data.get(kind, [])  # a list of patterns (the schema); each must compile once folded
    grouped: dict[Optional[frozenset[str]], list[str]] = defaultdict(list)
    for i, entry in enumerate(entries):
        folded = _fold_pattern(entry)
        try:
            grouped[needs_script(folded)].append(folded)
        except re.error as exc:
            problem = f"pattern {entry!r} is not a valid expression ({exc})"
            raise source.error(source.data, kind, f"{kind}[{i}]", problem) from exc
    if kind == "not_crisis" and len(grouped) > 1:
        whole = [p for group in grouped.values() for p in group]
        needs = None if None in grouped else frozenset().union(*grouped)  # type: ignore[arg-type]
        grouped = {needs: whole}
    return [(needs, re.compile("|".join(f"(?:{p})" for p in group))) for needs, group in grouped.items()]


def _scripts(folded: str) -> frozenset[str]:
    return frozenset(char_script(ch) for ch in folded if ch.isalpha())


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
