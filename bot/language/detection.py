"""Which language a conversation is in.

One short message says little: langdetect calls "help" Dutch and "hi" Swahili. So the decision
combines, in order of strength: the child's explicit choice (handled by the dialogue), the script
(which narrows the candidates: Hangul is Korean, kana Japanese, Cyrillic one of several), the
conversation's current language,
the channel's hints (a declared language such as Telegram's ``language_code``, the country), and
two text models (our n-gram model trained on children's messages, and langdetect). A short
ambiguous message never switches the language of a conversation that already has one.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages, get_territory_language_info
from langdetect import DetectorFactory, detector_factory
from langdetect.detector_factory import init_factory
from langdetect.lang_detect_exception import LangDetectException
from langdetect.language import Language as DetectedLanguage

from bot import DATA_DIR
from bot.datafiles.schema import load_validated
from bot.datafiles.training import Example, nlu_examples, risk_examples
from bot.datafiles.yamlfile import LineDict
from bot.language.ngram import NgramLanguageModel, char_script, script_of
from bot.language.quick_langdetect import detect_langs

SHORT_MESSAGE_WORDS = 3
# How far a longer message must lean towards another language before the conversation switches.
SWITCH_CONFIDENCE = 0.75
# The prior of a numbers-first language the child's country does not speak (README: chosen on the first blind set).
FOREIGN_MINORITY = 0.3
# How sure the n-gram model and the prior must be together to skip langdetect: chosen on the first
# blind set and tests/heldout, where 0.95 changed no decision and took 6.6 ms off a turn (README).
SURE_WITHOUT_LANGDETECT = 0.95
# How sure langdetect must be that a message of 3+ words is in a language we don't speak.
FOREIGN_CONFIDENCE = 0.9
_KANA = ("HIRAGANA", "KATAKANA")

DetectorFactory.seed = 0  # langdetect is random unless seeded


# Letters with a stroke that Unicode does not decompose, which children also type without it.
_STROKES = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i"})


def fold(text: str) -> str:
    """Lowercase and strip accents (and strokes: "ł" is "l"), for matching words however a child spells them."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_STROKES))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Apostrophes and the letters typed for them: "oʻzbekcha" is written "o'zbekcha" or "ozbekcha".
_APOSTROPHES = str.maketrans("", "", "'`\u2019\u02bb\u02bc")


def _name_key(text: str) -> str:
    """A language's name as a child may type it: folded, without apostrophes."""
    return fold(text).translate(_APOSTROPHES)


def _base_code(code: object) -> Optional[str]:
    """The language of a tag such as 'pt-BR', 'zh_Hant' or 'EN' ('pt', 'zh', 'en'); None if not a text."""
    return code.strip().replace("_", "-").split("-")[0].lower() if isinstance(code, str) else None


def _babel_locale(tag: str) -> Optional[Locale]:
    try:
        return Locale.parse(tag)
    except (ValueError, TypeError, UnknownLocaleError):
        return None


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
        # Recognised and answered with the numbers (data/texts/numbers/<code>.yml), in their own words.
        self.numbers_first: dict[str, Language] = {}
        numbers_first: LineDict = source.data.get("numbers_first") or LineDict()
        for code, entry in numbers_first.items():
            if str(code) in self.languages:
                raise source.error(numbers_first, code, f"numbers_first.{code}", "is already a full language")
            locale = _babel_locale(str(entry.get("babel", code)))
            self.numbers_first[str(code)] = Language(str(code), entry["name"], (locale,) if locale else ())
        # Languages typed the same in Latin letters, told apart by the country (romanised Urdu and Hindi).
        self._alike: dict[str, list[str]] = {}
        for tier, listed in (("languages", entries), ("numbers_first", numbers_first)):
            for code, entry in listed.items():
                for other in entry.get("alike", []):
                    if not self.recognise(other):
                        raise source.error(listed, code, f"{tier}.{code}.alike", f"'{other}' is not recognised")
                    self._alike.setdefault(str(code), []).append(str(other))
                    self._alike.setdefault(str(other), []).append(str(code))

    @property
    def codes(self) -> list[str]:
        return list(self.languages)

    def normalise(self, code: object) -> Optional[str]:
        """A supported code from a hint such as 'pt-BR', 'zh_Hant' or 'EN'; None if unsupported."""
        base = _base_code(code)
        return base if base in self.languages else None

    @property
    def recognised_codes(self) -> list[str]:
        """Every language the bot recognises: the full ones, then the numbers-first ones."""
        return [*self.languages, *self.numbers_first]

    def recognise(self, code: object) -> Optional[str]:
        """Like :meth:`normalise`, over both tiers: 'it-IT' gives 'it' (numbers-first)."""
        base = _base_code(code)
        return base if base in self.languages or base in self.numbers_first else None

    def full(self, code: Optional[str]) -> bool:
        return code in self.languages

    def language(self, code: str) -> Language:
        """The recognised language ``code`` names, of either tier (KeyError if none)."""
        return self.languages.get(code) or self.numbers_first[code]

    def locale(self, code: str) -> Locale:
        """The CLDR locale for times and names in ``code``; the default language's where Babel has none."""
        language = self.language(code) if self.recognise(code) == code else None
        return language.locale if language and language.locales else self.languages[self.default].locale

    def of_country(self, country: Optional[str]) -> list[str]:
        """Full languages official in a country, most spoken first (from CLDR)."""
        return [code for code in self.spoken_in(country) if code in self.languages]

    def as_spoken(self, code: str, country: Optional[str], script: str) -> str:
        """``code``, or a language typed alike in Latin letters that the country speaks and
        ``code`` is not: Hindi typed in Pakistan is Urdu, Croatian in Bosnia Bosnian."""
        spoken = self.spoken_in(country)
        if script != "LATIN" or code in spoken:
            return code
        return next((other for other in self._alike.get(code, []) if other in spoken), code)

    @functools.lru_cache(maxsize=512)  # noqa: B019 -- one registry per process, asked on every message
    def spoken_in(self, country: Optional[str]) -> list[str]:
        """Recognised languages of a country (both tiers): the official ones, most spoken first,
        then the one most people speak if it is not official (CLDR). Wider (every language of 10%
        or more: Spanish in the US) was measured worse on short messages, ours and the blind set's."""
        if not country:
            return []
        tags = list(get_official_languages(country.upper(), de_facto=True))
        spoken = get_territory_language_info(country.upper())
        if spoken:
            tags.append(max(spoken, key=lambda tag: float(spoken[tag]["population_percent"] or 0)))
        return list(dict.fromkeys(code for code in map(self.recognise, tags) if code))

    @cached_property
    def _name_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for code, language in self.languages.items():
            index[_name_key(language.name)] = code
            for other in self.languages.values():
                name = language.locale.get_language_name(other.locale)
                if name:
                    index[_name_key(name)] = code
        return index

    def named_in(self, text: str) -> list[str]:
        """The languages a message names ("in english pls", "español", "на русском" -> partial stems)."""
        folded = _name_key(text)
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
        init_factory()  # langdetect reads its profiles on first use (0.4 s): here, not in a child's first turn
        # A full language langdetect has no profile for (Pashto, Amharic) must not lose to Persian
        # because langdetect can only name Persian: its vote does not count against it. (Given the
        # same leave, the numbers-first languages it lacks cost our ten 1 point of short-message ID.)
        knows = {_recognise_detected(tag, registry) for tag in _langdetect_languages()}
        self._langdetect_blind_to = frozenset(lang for lang in registry.codes if lang not in knows)

    @classmethod
    def load(cls, registry: LanguageRegistry, training: Optional[list[Example]] = None) -> "LanguageDetector":
        """The n-gram model learns from the NLU examples and the risk files of our languages
        (which hold romanised Russian, pinyin, Hinglish and Arabizi); read here unless given."""
        if training is None:
            training = nlu_examples(registry.codes) + risk_examples()
        return cls(registry, NgramLanguageModel.from_examples(training))

    def decide(self, text: str, hints: LanguageHints = LanguageHints()) -> LanguageDecision:
        """The language to answer in (see the module's docstring)."""
        guesses = Guesses(text)
        decision = self._decide(text, hints, guesses)
        return LanguageDecision(decision.language, decision.reason, guesses)

    def foreign(self, text: str, guesses: Optional["Guesses"] = None) -> Optional[str]:
        """The language (or script) of a message that is clearly in none we recognise, else None.

        A script no recognised language is written in (Tifinagh, Hangul without Korean...) is
        foreign as a whole; in a script we know, only a message of 3+ words that langdetect is sure
        of counts, because one short word proves nothing.
        """
        letters = [ch for ch in text if ch.isalpha()]
        if not letters:
            return None
        if self._candidates(text) == []:
            return "ja" if any(char_script(ch) in _KANA for ch in letters) else script_of(text).lower()
        if word_count(text) < SHORT_MESSAGE_WORDS or script_of(text) == "CJK":
            return None
        likeliest = (guesses or Guesses(text)).all[:1]
        if likeliest and likeliest[0].prob >= FOREIGN_CONFIDENCE and not self.registry.recognise(likeliest[0].lang):
            return str(likeliest[0].lang)
        return None

    def _candidates(self, text: str, country: Optional[str] = None) -> Optional[list[str]]:
        """The recognised languages written in the message's script (kana: Japanese only); None
        when the message has no letters. Any language may be typed in Latin letters ("ti eisai
        esy?" is Greek): in Latin script, the country's languages are candidates too."""
        if not any(ch.isalpha() for ch in text):
            return None
        if any(char_script(ch) in _KANA for ch in text):
            return ["ja"] if self.registry.recognise("ja") else []
        script = script_of(text)
        found = [lang for lang in self.model.written_in(script) if self.registry.recognise(lang)]
        if script == "LATIN":
            found += [lang for lang in self.registry.spoken_in(country) if lang not in found]
        return found

    def _decide(self, text: str, hints: LanguageHints, guesses: "Guesses") -> LanguageDecision:
        current = self.registry.recognise(hints.current)
        declared = self.registry.recognise(hints.declared)
        candidates = self._candidates(text, hints.country)
        if candidates is not None and len(candidates) == 1:
            return LanguageDecision(candidates[0], "script")
        if not candidates:  # no letters, or a script we don't know: keep what we know
            fallback = current or declared or next(iter(self.registry.spoken_in(hints.country)), None)
            return LanguageDecision(fallback or self.registry.default, "kept" if current else "default")
        short = word_count(text) <= SHORT_MESSAGE_WORDS
        if short and current in candidates:
            return LanguageDecision(current, "kept")
        if short and declared in candidates:
            return LanguageDecision(declared, "hint")
        prior = self._prior(current, declared, hints.country, short)
        probabilities = self.text_probabilities(text, guesses, candidates, prior)
        scores = {lang: math.log(p + 1e-9) + math.log(prior.get(lang, 1.0)) for lang, p in probabilities.items()}
        best = self.registry.as_spoken(max(scores, key=scores.__getitem__), hints.country, script_of(text))
        if current in candidates and best != current and probabilities.get(best, 0.0) < SWITCH_CONFIDENCE:
            return LanguageDecision(current, "kept")
        return LanguageDecision(best, "text" if best not in (declared, current) else "hint")

    def text_probabilities(
        self,
        text: str,
        guesses: Optional["Guesses"] = None,
        candidates: Optional[list[str]] = None,
        prior: Optional[dict[str, float]] = None,
    ) -> dict[str, float]:
        """Our n-gram model and langdetect, combined (geometric mean weighted to the n-gram model),
        over ``candidates`` (every recognised language if None). Given the ``prior``, langdetect (a
        few ms) is asked only when the n-gram model and the prior together are not already sure."""
        languages = candidates or self.registry.recognised_codes
        ngram = self.model.probabilities(text)
        if prior is not None and (guesses is None or not guesses.asked):
            alone = {lang: (ngram.get(lang, 0) + 1e-9) ** 0.7 for lang in languages}
            with_prior = {lang: weight * prior.get(lang, 1.0) for lang, weight in alone.items()}
            if max(with_prior.values()) >= SURE_WITHOUT_LANGDETECT * sum(with_prior.values()):
                total = sum(alone.values())  # the text's evidence alone: the caller adds the prior once
                return {lang: value / total for lang, value in alone.items()}
        detected = (guesses or Guesses(text)).ours(self.registry)
        unknown = max(detected.values(), default=0.0)  # for a language langdetect cannot name: no evidence
        combined = {
            lang: math.exp(
                0.7 * math.log(ngram.get(lang, 0) + 1e-9)
                + 0.3 * math.log((unknown if lang in self._langdetect_blind_to else detected.get(lang, 0)) + 0.02)
            )
            for lang in languages
        }
        total = sum(combined.values())
        return {lang: value / total for lang, value in combined.items()}

    def _prior(
        self, current: Optional[str], declared: Optional[str], country: Optional[str], short: bool
    ) -> dict[str, float]:
        # Chosen on the first blind set of the numbers-first languages and tests/heldout (README).
        strength = 30.0 if short else 8.0
        spoken = self.registry.spoken_in(country)
        # A child writing a numbers-first language their country does not speak is rare (romanised
        # Greek in Greece is likelier than Haitian Creole); with no country known, the languages we
        # fully speak are the better bet too.
        prior = {
            lang: 1.0 if lang in self.registry.languages or lang in spoken else FOREIGN_MINORITY
            for lang in self.registry.recognised_codes
        }
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

    @property
    def asked(self) -> bool:
        """Whether langdetect has already been asked (its answer is then free)."""
        return "all" in vars(self)

    def ours(self, registry: LanguageRegistry, full_only: bool = False) -> dict[str, float]:
        """Restricted to the languages we recognise (or only the full ones) and normalised; empty
        when it has nothing to say."""
        restricted: dict[str, float] = {}
        for guess in self.all:
            code = _recognise_detected(guess.lang, registry, full_only)
            if code:
                restricted[code] = restricted.get(code, 0.0) + guess.prob
        total = sum(restricted.values())
        return {lang: p / total for lang, p in restricted.items()} if total else {}


# langdetect's names that are not the language's code here.
_LANGDETECT_ALIASES = {"tl": "fil"}


def _recognise_detected(tag: str, registry: LanguageRegistry, full_only: bool = False) -> Optional[str]:
    """Our code for a language langdetect names ("tl" is Filipino), if we recognise it."""
    tag = _LANGDETECT_ALIASES.get(tag, tag)
    return registry.normalise(tag) if full_only else registry.recognise(tag)


def _langdetect_languages() -> list[str]:
    """The languages langdetect has profiles for (its factory's, once initialised)."""
    factory = detector_factory._factory
    return list(factory.langlist) if factory is not None else []


def langdetect_probabilities(text: str, registry: LanguageRegistry) -> dict[str, float]:
    """langdetect alone, restricted to our full languages (the baseline of ``make bench-nlu``)."""
    return Guesses(text).ours(registry, full_only=True)
