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

import math
import unicodedata
from collections import Counter, defaultdict
from typing import Iterable, Mapping

from bot.datafiles.training import MIXED, Example

_NGRAM_SIZES = (1, 2, 3, 4)
MIN_SCRIPT_EXAMPLES = 50  # examples a script needs to be learnt apart
# Naive Bayes counts overlapping n-grams as independent evidence, so its raw posteriors are far too
# sure ("moin" 100% French). Dividing the log-scores by this temperature leaves room for the
# country hint on short messages; measured with `make bench-nlu` (short-message accuracy).
TEMPERATURE = 8.0


def features(text: str) -> list[str]:
    """Character n-grams of each word padded with spaces, plus the words themselves."""
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in _NGRAM_SIZES:
            grams.extend(padded[i : i + n] for i in range(max(len(padded) - n + 1, 1)))
        grams.append(f"w:{word}")
    return grams


def script_of(text: str) -> str:
    """The script most of a text's letters are written in ("LATIN", "ARABIC", "CJK"...)."""
    counts: Counter[str] = Counter(unicodedata.name(ch, "?").split(" ")[0] for ch in text if ch.isalpha())
    return counts.most_common(1)[0][0] if counts else "NONE"


class NgramLanguageModel:
    """Multinomial naive Bayes over :func:`features`, one class per language and script."""

    def __init__(self, examples: Mapping[str, Iterable[str]], alpha: float = 0.1) -> None:
        counts_by_class: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for language, texts in examples.items():
            by_script: dict[str, list[str]] = defaultdict(list)
            for text in texts:
                by_script[script_of(text)].append(text)
            if not by_script:
                continue
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
        vocabulary = set().union(*counts_by_class.values()) if counts_by_class else set()
        vocabulary_size = max(len(vocabulary), 1)
        # Log-likelihoods computed once, not per message: a gram a class never saw gets its floor.
        self._unseen: dict[tuple[str, str], float] = {}
        self._log_likelihood: dict[tuple[str, str], dict[str, float]] = {}
        for key, counts in counts_by_class.items():
            denominator = math.log(sum(counts.values()) + alpha * vocabulary_size)
            self._unseen[key] = math.log(alpha) - denominator
            self._log_likelihood[key] = {gram: math.log(count + alpha) - denominator for gram, count in counts.items()}

    @property
    def languages(self) -> list[str]:
        return list(self._languages)

    def probabilities(self, text: str) -> dict[str, float]:
        """Posterior probability of each language (uniform prior); uniform when there is no signal."""
        grams = features(text)
        if not grams or not self._log_likelihood:
            return {lang: 1 / max(len(self._languages), 1) for lang in self._languages}
        scores = {}
        for key, likelihood in self._log_likelihood.items():
            unseen = self._unseen[key]
            scores[key] = self._log_prior[key] + sum(likelihood.get(gram, unseen) for gram in grams)
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
