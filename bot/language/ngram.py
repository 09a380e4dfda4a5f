"""A small character n-gram language identifier trained on the bot's own examples (bot.datafiles.training).

langdetect knows how adults write long texts; it is wrong on most 1-3 word messages and knows
nothing of Hinglish or Arabizi. Our NLU data is exactly how children write to this bot, in every
supported language and script, so a naive Bayes model over its character n-grams is a good second
opinion on short messages. It trains in well under a second, at start-up.

Each language is learnt once per script it is written in (Hindi in Devanagari and in Latin
letters, Arabic in Arabic script and in Arabizi): pooled together, the few romanised examples
would be drowned by the native-script ones, and "chat mita do" would look more English than Hindi.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from array import array
from collections import Counter, defaultdict
from typing import Iterable, Mapping

from bot.datafiles.training import MIXED, Example

_NGRAM_SIZES = (1, 2, 3, 4)
MIN_SCRIPT_EXAMPLES = 50  # examples a script needs to be learnt apart
MIN_SCRIPT_TEXTS = 3  # examples that show a language is written in a script (a stray "ok" does not)
# Naive Bayes counts overlapping n-grams as independent evidence, so its raw posteriors are far too
# sure ("moin" 100% French). Dividing the log-scores by this temperature leaves room for the
# country hint on short messages; measured with `make bench-nlu` (short-message accuracy).
TEMPERATURE = 16.0
# How many grams of the pooled distribution a language's own counts are blended with (Dirichlet
# smoothing); chosen with TEMPERATURE on the first blind set of the numbers-first languages and
# tests/heldout (language ID on short messages), see the README.
MU = 2000.0


def features(text: str) -> list[str]:
    """Character n-grams of each word padded with spaces, plus the words themselves."""
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in _NGRAM_SIZES:
            grams.extend(padded[i : i + n] for i in range(max(len(padded) - n + 1, 1)))
        grams.append(f"w:{word}")
    return grams


@functools.lru_cache(maxsize=8192)
def char_script(ch: str) -> str:
    """A character's script: the first word of its Unicode name ("LATIN", "HIRAGANA", "CJK"...)."""
    return unicodedata.name(ch, "?").split(" ")[0]


def script_of(text: str) -> str:
    """The script most of a text's letters are written in ("LATIN", "ARABIC", "CJK"...)."""
    counts: Counter[str] = Counter(char_script(ch) for ch in text if ch.isalpha())
    return counts.most_common(1)[0][0] if counts else "NONE"


class NgramLanguageModel:
    """Multinomial naive Bayes over :func:`features`, one class per language and script."""

    def __init__(self, examples: Mapping[str, Iterable[str]], alpha: float = 0.1, mu: float = MU) -> None:
        counts_by_class: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self._written_in: dict[str, list[str]] = defaultdict(list)  # script -> languages written in it
        for language, texts in examples.items():
            by_script: dict[str, list[str]] = defaultdict(list)
            for text in texts:
                by_script[script_of(text)].append(text)
            if not by_script:
                continue
            for script, group in by_script.items():
                if len(group) >= MIN_SCRIPT_TEXTS:
                    self._written_in[script].append(language)
            main = max(by_script, key=lambda script: len(by_script[script]))
            for script, group in by_script.items():
                # A handful of stray examples ("ok" in the Chinese data) would make a tiny class
                # that wins every unknown word; they join the language's main script instead.
                key = (language, script if len(group) >= MIN_SCRIPT_EXAMPLES else main)
                for text in group:
                    counts_by_class[key].update(features(text))
        self._languages = list(dict.fromkeys(language for language, _ in counts_by_class))
        # A language written in two scripts splits its prior between them.
        self._log_prior = {
            key: -math.log(sum(1 for other, _ in counts_by_class if other == key[0])) for key in counts_by_class
        }
        # Dirichlet smoothing towards the pooled distribution of all languages: a language learnt
        # from a few dozen messages (the numbers-first ones) is scored like an average language on
        # grams it never saw, not punished as if they were impossible in it.
        pooled: Counter[str] = Counter()
        for counts in counts_by_class.values():
            pooled.update(counts)
        pooled_total = sum(pooled.values()) or 1
        vocabulary_size = max(len(pooled), 1)
        smoothed_total = pooled_total + alpha * vocabulary_size
        background = {gram: (count + alpha) / smoothed_total for gram, count in pooled.items()}
        # A language's log-likelihood of a gram is log(count + mu * background) - scale: the same
        # as for a gram it never saw (log(mu * background) - scale) plus log(1 + count / (mu * background)).
        # So a message scores -scale per gram in every language, plus that bonus where a language
        # has seen the gram: kept per gram (an inverted index), the work is the grams' few languages,
        # not every gram in every language (97 languages: 6 ms a message the direct way).
        self._keys = list(counts_by_class)
        self._scale = [math.log(sum(counts_by_class[key].values()) + mu) for key in self._keys]
        # Two flat arrays and one int per gram (where its languages start << 16 | how many): a
        # container per gram would be hundreds of thousands of objects for every full garbage
        # collection to walk (a pause in some child's turn).
        seen_in: dict[str, list[int]] = defaultdict(list)
        for index, key in enumerate(self._keys):
            for gram in counts_by_class[key]:
                seen_in[gram].append(index)
        self._slices: dict[str, int] = {}
        self._class_of, self._bonus = array("H"), array("d")
        for gram, indexes in seen_in.items():
            self._slices[gram] = len(self._class_of) << 16 | len(indexes)
            for index in indexes:
                self._class_of.append(index)
                self._bonus.append(math.log1p(counts_by_class[self._keys[index]][gram] / (mu * background[gram])))

    @property
    def languages(self) -> list[str]:
        return list(self._languages)

    def written_in(self, script: str) -> list[str]:
        """The languages learnt in a script (:func:`script_of`): a message in it is one of them."""
        return list(self._written_in.get(script, ()))

    def probabilities(self, text: str) -> dict[str, float]:
        """Posterior probability of each language (uniform prior); uniform when there is no signal."""
        grams = features(text)
        if not grams or not self._keys:
            return {lang: 1 / max(len(self._languages), 1) for lang in self._languages}
        totals = [self._log_prior[key] - len(grams) * self._scale[i] for i, key in enumerate(self._keys)]
        class_of, bonus = self._class_of, self._bonus
        for gram in grams:
            packed = self._slices.get(gram)
            if packed is not None:
                start = packed >> 16
                for i in range(start, start + (packed & 0xFFFF)):
                    totals[class_of[i]] += bonus[i]
        scores = dict(zip(self._keys, totals, strict=True))
        best = max(scores.values())
        posterior = {lang: 0.0 for lang in self._languages}
        for (language, _), score in scores.items():
            posterior[language] += math.exp((score - best) / TEMPERATURE)
        total = sum(posterior.values())
        return {lang: weight / total for lang, weight in posterior.items()}

    @classmethod
    def from_examples(cls, examples: Iterable[Example]) -> "NgramLanguageModel":
        """Train on examples of our languages (``bot.datafiles.training``); mixed-language ones are left out."""
        texts: dict[str, list[str]] = defaultdict(list)
        for example in examples:
            if example.language != MIXED:
                texts[example.language].append(example.text)
        return cls(texts)
