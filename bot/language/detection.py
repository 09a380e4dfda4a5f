"""Which language a conversation is in.

One short message says little: langdetect calls "help" Dutch and "hi" Swahili. So the decision
combines, in order of strength: the child's explicit choice (handled by the dialogue), the script
(Arabic, Cyrillic, Devanagari and Chinese are unambiguous), the conversation's current language,
the channel's hints (a declared language such as Telegram's ``language_code``, the country), and
two text models (our n-gram model trained on children's messages, and langdetect). A short
ambiguous message never switches the language of a conversation that already has one.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages
from langdetect import DetectorFactory
from langdetect.detector_factory import init_factory
from langdetect.lang_detect_exception import LangDetectException
from langdetect.language import Language as DetectedLanguage

from bot import DATA_DIR
from bot.datafiles.schema import load_validated
from bot.datafiles.training import Example, nlu_examples, risk_examples
from bot.language.ngram import NgramLanguageModel
from bot.language.quick_langdetect import detect_langs

# Scripts that belong to exactly one of our languages (first word of the Unicode character name).
SCRIPT_LANGUAGE = {"ARABIC": "ar", "CYRILLIC": "ru", "DEVANAGARI": "hi", "CJK": "zh"}
SHORT_MESSAGE_WORDS = 3
# How far a longer message must lean towards another language before the conversation switches.
SWITCH_CONFIDENCE = 0.75
# How sure langdetect must be that a message of 3+ words is in a language we don't speak.
FOREIGN_CONFIDENCE = 0.9
# Scripts our languages are written in; a message in any other (Hangul, Thai, Greek...) is foreign.
OUR_SCRIPTS = ("LATIN", *SCRIPT_LANGUAGE)
_KANA = ("HIRAGANA", "KATAKANA")

DetectorFactory.seed = 0  # langdetect is random unless seeded


def fold(text: str) -> str:
    """Lowercase and strip accents, for matching names however a child spells them."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def word_count(text: str) -> int:
    """Words in a message; Chinese has no spaces, so each two characters count as a word."""
    han = sum(1 for ch in text if unicodedata.name(ch, "").startswith("CJK"))
    return len(text.split()) + han // 2


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # as the language calls itself
    locales: tuple[Locale, ...]  # the first is the main one; others add spellings (zh_Hant...)
    countries: tuple[str, ...] = ()  # offered first when we must ask a child where they are

    @property
    def locale(self) -> Locale:
        return self.locales[0]


class LanguageRegistry:
    """The supported languages (``data/languages.yml``) and what we know about their names."""

    def __init__(self, path: Path = DATA_DIR / "languages.yml") -> None:
        source = load_validated(path, "languages")  # its shape; then that each locale exists, and the default
        entries = source.data["languages"]
        self.languages: dict[str, Language] = {}
        for code, entry in entries.items():
            tags = entry.get("babel", code)  # the schema checks a babel given; the code is its default
            try:
                locales = tuple(Locale.parse(str(tag)) for tag in (tags if isinstance(tags, list) else [tags]))
            except (ValueError, TypeError, UnknownLocaleError) as exc:
                problem = f"unknown locale ({exc}); name one Babel knows, such as babel: en"
                raise source.error(entries, code, f"languages.{code}.babel", problem) from exc
            countries = tuple(entry.get("countries", []))
            self.languages[str(code)] = Language(str(code), entry["name"], locales, countries)
        self.default = str(source.data.get("default", next(iter(self.languages))))
        if self.default not in self.languages:
            raise source.error(source.data, "default", "default", f"'{self.default}' is not one of the languages")

    @property
    def codes(self) -> list[str]:
        return list(self.languages)

    def normalise(self, code: object) -> Optional[str]:
        """A supported code from a hint such as 'pt-BR', 'zh_Hant' or 'EN'; None if unsupported."""
        if not isinstance(code, str):
            return None
        base = code.strip().replace("_", "-").split("-")[0].lower()
        return base if base in self.languages else None

    def of_country(self, country: Optional[str]) -> list[str]:
        """Supported languages official in a country, most spoken first (from CLDR)."""
        if not country:
            return []
        found = []
        for tag in get_official_languages(country.upper(), de_facto=True):
            code = self.normalise(tag)
            if code and code not in found:
                found.append(code)
        return found

    @cached_property
    def _name_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for code, language in self.languages.items():
            index[fold(language.name)] = code
            for other in self.languages.values():
                name = language.locale.get_language_name(other.locale)
                if name:
                    index[fold(name)] = code
        return index

    def named_in(self, text: str) -> list[str]:
        """The languages a message names ("in english pls", "español", "на русском" -> partial stems)."""
        folded = fold(text)
        found = []
        for name, code in self._name_index.items():
            # Stems let inflected forms match: "русском" for "русский", "inglesh" for "inglês".
            stem = name[: max(4, len(name) - 2)] if len(name) > 4 else name
            if stem in folded and code not in found:
                found.append(code)
        return found


@dataclass(frozen=True)
class LanguageHints:
    """What we know besides the text: the conversation so far and the channel."""

    current: Optional[str] = None
    declared: Optional[str] = None
    country: Optional[str] = None


@dataclass(frozen=True)
class LanguageDecision:
    language: str
    reason: str  # script | kept | text | hint | default
    guesses: Optional["Guesses"] = field(default=None, compare=False)  # langdetect's, made at most once per message


class LanguageDetector:
    """Decides the language of each message in a conversation."""

    def __init__(self, registry: LanguageRegistry, model: NgramLanguageModel) -> None:
        self.registry = registry
        self.model = model

    @classmethod
    def load(cls, registry: LanguageRegistry, training: Optional[list[Example]] = None) -> "LanguageDetector":
        """The n-gram model learns from the NLU examples and the risk files of our languages
        (which hold romanised Russian, pinyin, Hinglish and Arabizi); read here unless given."""
        init_factory()  # langdetect reads its profiles on first use (0.4 s): here, not in a child's first turn
        if training is None:
            training = nlu_examples(registry.codes) + risk_examples()
        return cls(registry, NgramLanguageModel.from_examples(training))

    def decide(self, text: str, hints: LanguageHints = LanguageHints()) -> LanguageDecision:
        """The language to answer in (see the module's docstring)."""
        guesses = Guesses(text)
        decision = self._decide(text, hints, guesses)
        return LanguageDecision(decision.language, decision.reason, guesses)

    def foreign(self, text: str, guesses: Optional["Guesses"] = None) -> Optional[str]:
        """The language (or script) of a message that is clearly in none of ours, else None.

        Japanese is told from Chinese by its kana; other scripts are foreign as a whole; in our
        scripts, only a message of 3+ words that langdetect is sure of (Italian, Turkish,
        Ukrainian, Persian...) counts, because one short word proves nothing.
        """
        scripts = [unicodedata.name(ch, "").split(" ")[0] for ch in text if ch.isalpha()]
        if not scripts:
            return None
        if any(script in _KANA for script in scripts):
            return "ja"
        main = max(set(scripts), key=scripts.count)
        if main not in OUR_SCRIPTS:
            return main.lower()
        if word_count(text) < SHORT_MESSAGE_WORDS or main == "CJK":
            return None
        likeliest = (guesses or Guesses(text)).all[:1]
        if likeliest and likeliest[0].prob >= FOREIGN_CONFIDENCE and not self.registry.normalise(likeliest[0].lang):
            return str(likeliest[0].lang)
        return None

    def _decide(self, text: str, hints: LanguageHints, guesses: "Guesses") -> LanguageDecision:
        current = self.registry.normalise(hints.current)
        declared = self.registry.normalise(hints.declared)
        by_script = self._script_language(text)
        if by_script:
            return LanguageDecision(by_script, "script")
        if not any(ch.isalpha() for ch in text):
            fallback = current or declared or next(iter(self.registry.of_country(hints.country)), None)
            return LanguageDecision(fallback or self.registry.default, "kept" if current else "default")
        short = word_count(text) <= SHORT_MESSAGE_WORDS
        if short and current:
            return LanguageDecision(current, "kept")
        if short and declared:
            return LanguageDecision(declared, "hint")
        probabilities = self.text_probabilities(text, guesses)
        prior = self._prior(current, declared, hints.country, short)
        scores = {lang: math.log(p + 1e-9) + math.log(prior[lang]) for lang, p in probabilities.items()}
        best = max(scores, key=scores.__getitem__)
        if current and best != current and probabilities[best] < SWITCH_CONFIDENCE:
            return LanguageDecision(current, "kept")
        return LanguageDecision(best, "text" if best not in (declared, current) else "hint")

    def text_probabilities(self, text: str, guesses: Optional["Guesses"] = None) -> dict[str, float]:
        """Our n-gram model and langdetect, combined (geometric mean weighted to the n-gram model)."""
        ngram = self.model.probabilities(text)
        detected = (guesses or Guesses(text)).ours(self.registry)
        combined = {
            lang: math.exp(0.7 * math.log(ngram.get(lang, 0) + 1e-9) + 0.3 * math.log(detected.get(lang, 0) + 0.02))
            for lang in self.registry.codes
        }
        total = sum(combined.values())
        return {lang: value / total for lang, value in combined.items()}

    def _prior(
        self, current: Optional[str], declared: Optional[str], country: Optional[str], short: bool
    ) -> dict[str, float]:
        strength = 12.0 if short else 1.5
        prior = {lang: 1.0 for lang in self.registry.codes}
        spoken = self.registry.of_country(country)
        for rank, lang in enumerate(spoken):
            prior[lang] *= strength / (1 + 0.1 * rank)
        if not (spoken or declared or current):
            # Nothing known but one or two words ("hi"): the product's default is the best bet.
            prior[self.registry.default] *= strength / 2
        if declared:
            prior[declared] *= strength
        if current:
            prior[current] *= 2.0
        return prior

    def _script_language(self, text: str) -> Optional[str]:
        counts: dict[str, int] = {}
        letters = 0
        for ch in text:
            if ch.isalpha():
                letters += 1
                script = unicodedata.name(ch, "").split(" ")[0]
                counts[script] = counts.get(script, 0) + 1
        if not letters:
            return None
        script, count = max(counts.items(), key=lambda item: item[1])
        language = SCRIPT_LANGUAGE.get(script)
        if language in self.registry.languages and count / letters >= 0.5:
            return language
        return None


class Guesses:
    """langdetect's guesses for one text, made at most once: a call costs a few milliseconds, and
    both the language decision and the foreign-language check need them."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def all(self) -> list[DetectedLanguage]:
        """Over all the languages langdetect knows, likeliest first; empty when it has none."""
        try:
            return list(detect_langs(self.text))
        except LangDetectException:
            return []

    def ours(self, registry: LanguageRegistry) -> dict[str, float]:
        """Restricted to our languages and normalised; empty when it has nothing to say."""
        restricted: dict[str, float] = {}
        for guess in self.all:
            code = registry.normalise(guess.lang)
            if code:
                restricted[code] = restricted.get(code, 0.0) + guess.prob
        total = sum(restricted.values())
        return {lang: p / total for lang, p in restricted.items()} if total else {}


def langdetect_probabilities(text: str, registry: LanguageRegistry) -> dict[str, float]:
    """langdetect alone, restricted to our languages (the baseline of ``make bench-nlu``)."""
    return Guesses(text).ours(registry)
