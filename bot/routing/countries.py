"""Working out which country a child is in: from a phone number, a hint, or their own words.

Country names come from CLDR (through Babel) in every supported language, so "kenya", "quénia",
"كينيا" and "肯尼亚" all resolve without hand-written lists. Close misspellings ("kenia") and
demonyms, which share the name's stem ("kenyan", "mexicano", "sénégalais"), match too, but only as
a guess that the child is asked to confirm.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Optional, cast

import phonenumbers
import pycountry
from babel import Locale

from bot.language.detection import fold

# CLDR "territories" that are regions or groupings, not countries.
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}
_WORD = re.compile(r"\w+")
_FUZZY_CUTOFF = 0.84
_MIN_FUZZY_LENGTH = 5
_MIN_STEM_NAME = 5  # names shorter than this ("mali", "oman") only match as written
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
    """Localised country names in a set of languages, and matching of a child's words to them."""

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
        words = _WORD.findall(folded)
        exact = {code for name, code in self._index.items() if _contains_name(folded, words, name)}
        if exact:
            return CountryMatch(exact.pop(), sure=True) if len(exact) == 1 else None
        guess = self._by_stem(words) or self._by_spelling(words)
        return CountryMatch(guess, sure=False) if guess else None

    def _by_stem(self, words: list[str]) -> Optional[str]:
        """A demonym: a word that starts with a one-word name less its last letter ("kenyan")."""
        best: dict[str, int] = {}
        for word in words:
            for name, code in self._single_word_names.items():
                stem = name[:-1]
                if word.startswith(stem) and 0 < len(word) - len(name) + 1 <= _MAX_DEMONYM_SUFFIX + 1:
                    best[code] = max(best.get(code, 0), len(stem))
        if not best:
            return None
        longest = max(best.values())
        codes = [code for code, size in best.items() if size == longest]
        return codes[0] if len(codes) == 1 else None

    @cached_property
    def _single_word_names(self) -> dict[str, str]:
        return {
            name: code
            for name, code in self._index.items()
            if len(name) >= _MIN_STEM_NAME and _WORD.fullmatch(name) and not _is_cjk(name)
        }

    def _by_spelling(self, words: list[str]) -> Optional[str]:
        fuzzy = set()
        for size in (1, 2, 3):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start : start + size])
                if len(phrase) < _MIN_FUZZY_LENGTH:
                    continue
                for match in difflib.get_close_matches(phrase, self._index, n=1, cutoff=_FUZZY_CUTOFF):
                    fuzzy.add(self._index[match])
        return fuzzy.pop() if len(fuzzy) == 1 else None


def _contains_name(folded: str, words: list[str], name: str) -> bool:
    if _is_cjk(name):
        return name in folded  # Chinese is written without spaces
    name_words = _WORD.findall(name)
    if not name_words:
        return False
    size = len(name_words)
    return any(words[i : i + size] == name_words for i in range(len(words) - size + 1))


def _is_cjk(text: str) -> bool:
    return all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)
