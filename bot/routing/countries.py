"""Working out which country a child is in: from a phone number, a hint, or their own words.

Country names come from CLDR (through Babel) in every supported language, so "kenya", "quénia",
"كينيا" and "肯尼亚" all resolve without hand-written lists. Close misspellings ("kenia") and
demonyms, which share the name's stem ("kenyan", "mexicano", "sénégalais"), match too, but only as
a guess that the child is asked to confirm.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Optional, cast

import phonenumbers
import pycountry
from babel import Locale

from bot.language.detection import fold
from bot.language.ngram import char_script, script_of

# Scripts written without spaces between words: a country's name is found inside a longer word.
_UNSPACED_SCRIPTS = {"CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"}
# CLDR "territories" that are regions or groupings, not countries.
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}
_WORD = re.compile(r"\w+")
_FUZZY_CUTOFF = 0.84
_MIN_FUZZY_LENGTH = 5
_MIN_STEM_NAME = 5  # names shorter than this ("mali", "oman") only match as written
_STEM_KEY = _MIN_STEM_NAME - 1  # a stem's length at least: the key of the demonym index
_MAX_DEMONYM_SUFFIX = 4  # "kenya" -> "kenyan", "mexico" -> "mexicano", "senegal" -> "senegalais"


@dataclass(frozen=True)
class CountryMatch:
    code: str
    sure: bool  # written as the country's name; False for a typo or a demonym (confirm it first)


def is_country_code(code: object) -> bool:
    return isinstance(code, str) and len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None


def from_phone(number: object) -> Optional[str]:
    """The country of an international phone number such as '+254712345678' or 'whatsapp:+7701...'.

    Shared calling codes (+1, +7, +44...) are resolved by the number itself, not the code alone.
    """
    if not isinstance(number, str):
        return None
    number = number.removeprefix("whatsapp:").strip()
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return region if region and region != "001" else None


class CountryNames:
    """Localised country names in a set of languages, and matching of a child's words to them.

    A message is compared with thousands of names (every full language's CLDR list), so the names
    are indexed once: by first word for exact matches, by first letters for demonyms, and by script
    and length for typos, which gives the same answers as comparing with every name.
    """

    def __init__(self, locales: Iterable[Locale]) -> None:
        self._locales = list(locales)

    @cached_property
    def _index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for locale in self._locales:
            for code, name in locale.territories.items():
                if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
                    index.setdefault(fold(name), code)
        return index

    def name(self, code: str, locale: Locale) -> str:
        return cast(str, locale.territories.get(code.upper(), code.upper()))

    def match(self, text: str) -> Optional[CountryMatch]:
        """The one country a message names; None if it names none, or several."""
        folded = fold(text)
        found = list(_WORD.finditer(folded))
        words = [m.group() for m in found]
        exact = self._by_name(folded, words, [m.start() for m in found])
        if exact:
            return CountryMatch(exact.pop(), sure=True) if len(exact) == 1 else None
        guess = self._by_stem(words) or self._by_spelling(words)
        return CountryMatch(guess, sure=False) if guess else None

    def _by_name(self, folded: str, words: list[str], starts: list[int]) -> set[str]:
        """The countries whose name the message contains: as whole words, or anywhere for a name in
        a script written without spaces ("ประเทศไทย", "日本に住んでる"). A name inside a longer one
        found too ("guinea" in "papua new guinea") is not a second country."""
        spans: dict[tuple[int, int], str] = {}  # (start, end) in the folded text -> country
        for i, word in enumerate(words):
            for name_words, code in self._by_first_word.get(word, ()):
                if tuple(words[i : i + len(name_words)]) == name_words:
                    last = i + len(name_words) - 1
                    spans[(starts[i], starts[last] + len(words[last]))] = code
        if any(char_script(ch) in _UNSPACED_SCRIPTS for ch in folded):
            for name, code in self._unspaced_names.items():
                at = folded.find(name)
                if at >= 0:
                    spans[(at, at + len(name))] = code
        return {
            code
            for (start, end), code in spans.items()
            if not any(s <= start and end <= e and (s, e) != (start, end) for s, e in spans)
        }

    @cached_property
    def _by_first_word(self) -> dict[str, list[tuple[tuple[str, ...], str]]]:
        index: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
        for name, code in self._index.items():
            name_words = tuple(_WORD.findall(name))
            if name_words and name not in self._unspaced_names:
                index[name_words[0]].append((name_words, code))
        return index

    @cached_property
    def _unspaced_names(self) -> dict[str, str]:
        return {name: code for name, code in self._index.items() if _written_without_spaces(name)}

    def _by_stem(self, words: list[str]) -> Optional[str]:
        """A demonym: a word that starts with a one-word name less its last letter ("kenyan")."""
        best: dict[str, int] = {}
        for word in words:
            for name, code in self._single_word_names.get(word[:_STEM_KEY], ()):
                stem = name[:-1]
                if word.startswith(stem) and 0 < len(word) - len(name) + 1 <= _MAX_DEMONYM_SUFFIX + 1:
                    best[code] = max(best.get(code, 0), len(stem))
        if not best:
            return None
        longest = max(best.values())
        codes = [code for code, size in best.items() if size == longest]
        return codes[0] if len(codes) == 1 else None

    @cached_property
    def _single_word_names(self) -> dict[str, list[tuple[str, str]]]:
        """One-word names by their first letters (a stem is at least that long)."""
        index: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for name, code in self._index.items():
            if len(name) >= _MIN_STEM_NAME and _WORD.fullmatch(name) and not _written_without_spaces(name):
                index[name[:_STEM_KEY]].append((name, code))
        return index

    def _by_spelling(self, words: list[str]) -> Optional[str]:
        fuzzy = set()
        for size in (1, 2, 3):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start : start + size])
                if len(phrase) < _MIN_FUZZY_LENGTH:
                    continue
                for match in difflib.get_close_matches(phrase, self._near_in_length(phrase), n=1, cutoff=_FUZZY_CUTOFF):
                    fuzzy.add(self._index[match])
        return fuzzy.pop() if len(fuzzy) == 1 else None

    def _near_in_length(self, phrase: str) -> list[str]:
        """The names in the phrase's script that difflib could find close: a name of length m is at
        most 2 * min(n, m) / (n + m) alike to a phrase of length n, so the others never reach the cutoff."""
        by_length = self._names_by_script_and_length.get(script_of(phrase), {})
        n = len(phrase)
        return [name for m, names in by_length.items() if 2 * min(n, m) / (n + m) >= _FUZZY_CUTOFF for name in names]

    @cached_property
    def _names_by_script_and_length(self) -> dict[str, dict[int, list[str]]]:
        index: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
        for name in self._index:
            index[script_of(name)][len(name)].append(name)
        return index


def _written_without_spaces(name: str) -> bool:
    """Whether a name is written in scripts that put no spaces between words (Chinese, Japanese, Thai...)."""
    letters = [ch for ch in name if ch.isalpha()]
    return bool(letters) and all(char_script(ch) in _UNSPACED_SCRIPTS for ch in letters)
