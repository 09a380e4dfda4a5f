"""A small character n-gram language identifier trained on the bot's own NLU examples.

langdetect knows how adults write long texts; it is wrong on most 1-3 word messages and knows
nothing of Hinglish or Arabizi. Our NLU data is exactly how children write to this bot, in every
supported language and script, so a naive Bayes model over its character n-grams is a good second
opinion on short messages. It trains in well under a second, at start-up.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping

import yaml

_NGRAM_SIZES = (1, 2, 3, 4)


def features(text: str) -> list[str]:
    """Character n-grams of each word padded with spaces, plus the words themselves."""
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in _NGRAM_SIZES:
            grams.extend(padded[i : i + n] for i in range(max(len(padded) - n + 1, 1)))
        grams.append(f"w:{word}")
    return grams


class NgramLanguageModel:
    """Multinomial naive Bayes over :func:`features`, with add-alpha smoothing."""

    def __init__(self, examples: Mapping[str, Iterable[str]], alpha: float = 0.1) -> None:
        self._alpha = alpha
        self._counts: dict[str, Counter[str]] = {}
        self._totals: dict[str, int] = {}
        vocabulary: set[str] = set()
        for language, texts in examples.items():
            counts: Counter[str] = Counter()
            for text in texts:
                counts.update(features(text))
            self._counts[language] = counts
            self._totals[language] = sum(counts.values())
            vocabulary.update(counts)
        self._vocabulary_size = max(len(vocabulary), 1)

    @property
    def languages(self) -> list[str]:
        return list(self._counts)

    def probabilities(self, text: str) -> dict[str, float]:
        """Posterior probability of each language (uniform prior); uniform when there is no signal."""
        grams = features(text)
        if not grams or not self._counts:
            return {lang: 1 / max(len(self._counts), 1) for lang in self._counts}
        scores = {}
        for language, counts in self._counts.items():
            denominator = math.log(self._totals[language] + self._alpha * self._vocabulary_size)
            scores[language] = sum(
                math.log(counts.get(gram, 0) + self._alpha) - denominator for gram in grams
            )
        best = max(scores.values())
        weights = {lang: math.exp(score - best) for lang, score in scores.items()}
        total = sum(weights.values())
        return {lang: weight / total for lang, weight in weights.items()}

    @classmethod
    def from_nlu_folder(cls, folder: Path, languages: Iterable[str]) -> "NgramLanguageModel":
        """Train on ``folder/<lang>/*.yml`` (Rasa NLU files) for each language."""
        examples: dict[str, list[str]] = {}
        for language in languages:
            texts: list[str] = []
            for path in sorted((folder / language).glob("*.yml")):
                texts.extend(_nlu_examples(path))
            examples[language] = texts
        return cls(examples)


def _nlu_examples(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    texts = []
    for block in data.get("nlu", []) or []:
        for line in str(block.get("examples", "")).splitlines():
            line = line.strip()
            if line.startswith("- "):
                texts.append(line[2:].strip())
    return texts
