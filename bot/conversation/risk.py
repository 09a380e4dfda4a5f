"""The learnt risk classifier: how likely a message (and the few before it) is a crisis.

The phrase lists of ``bot.conversation.triage`` catch what they name; children who are at risk often name
nothing ("gave away my cat and my games today, wont need them"), write "su1c1de", "iwanttodie",
"mujhe marna hai" or build up to it over several messages. This classifier learns risk from
examples instead: every NLU example (a crisis intent, or none) plus ``data/risk/*.yml``,
written to teach veiled risk, romanised spellings, spelling noise, mixed languages, short
conversations and calm look-alikes. It sees each message three ways — as written (folded), with leetspeak and repeated
letters undone, and without spaces — as hashed character n-grams and words, so it needs no
vocabulary and learns every script at once. A logistic regression gives a probability per class.

The conversation matters too: the last ``context_turns`` messages are also scored together, so
"its my stepdad" then "hes coming up the stairs again" is scored as one story. Settings and
thresholds are in ``data/risk.yml``. It trains in about two seconds at start-up (liblinear on
hashed features), so there is no fitted model to keep in step with its data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import normalize

from bot import DATA_DIR
from bot.datafiles.schema import load_validated
from bot.datafiles.training import Example, nlu_examples, risk_examples
from bot.language.detection import fold

RISK_CLASSES = ("self_harm", "danger_now", "online_sexual_abuse")
NONE = "none"
SETTINGS_PATH = DATA_DIR / "risk.yml"
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"\S*[^\W\d_]\S*")  # a word with letters: its digits may be letters ("k1ll", "d1e")
_REPEATS = re.compile(r"(.)\1{2,}")
_DOUBLES = re.compile(r"(.)\1+")
_NOT_WORD = re.compile(r"[^\w]+")
_LAUGHTER = re.compile(
    r"😂|🤣|😹|😆|💀|\b(l+o+l+|lmf?ao+|rofl|x+d+|ha(ha)+h?|he(he)+|ja(ja)+|je(je)+|k{3,}|rs(rs)+|mdr+|ptdr+|wk(wk)+|5{3,}|"
    r"xa(xa)+|ха(ха)+|хи(хи)+|jk)\b|哈哈|呵呵|笑死|ههه+|هاها"
)


def laughing(text: str) -> bool:
    """Whether a message laughs (lol, 😂, jajaja, kkkk, mdr, хаха, 哈哈, 💀...), in any language."""
    return bool(_LAUGHTER.search(fold(text)))


def views(text: str) -> tuple[str, str, str]:
    """The message as written (folded, runs of 3+ letters cut to 2), with leetspeak and doubled
    letters undone, and the latter without spaces.

    Leetspeak is undone only in the second view, and only in words with letters ("20 pills"
    keeps its number): Arabizi writes letters with the same digits ("ta3ban").
    """
    folded = _REPEATS.sub(r"\1\1", fold(text))
    plain = _DOUBLES.sub(r"\1", _LEET_WORD.sub(lambda word: word.group().translate(_LEET), folded))
    return folded, plain, _DOUBLES.sub(r"\1", _NOT_WORD.sub("", plain))


def analyse(text: str) -> list[str]:
    """Features of one message: character n-grams of each view, and the words of the plain one."""
    folded, plain, joined = views(text)
    grams = []
    padded = f" {folded} "
    grams += [f"a{padded[i : i + n]}" for n in (2, 3, 4, 5) for i in range(len(padded) - n + 1)]
    grams += [f"j{joined[i : i + n]}" for n in (3, 4, 5) for i in range(len(joined) - n + 1)]
    grams += [f"c{ch}" for ch in joined if "\u3400" <= ch <= "\u9fff"]  # a Chinese character is a word
    words = _NOT_WORD.sub(" ", plain).split()
    grams += [f"w{w}" for w in words] + [f"b{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    if laughing(text):  # one feature for laughing in any language: hyperbole is often laughed at
        grams.append("laughing")
    return grams


@dataclass(frozen=True)
class RiskSettings:
    crisis_threshold: float  # a risk class at least this likely is a crisis
    unsure_threshold: float  # any risk this likely means the bot is not sure: the child gets both numbers
    context_turns: int  # messages scored together (the current one and those before it)
    sure_intent_confidence: float  # below this, the intent classifier is not sure: both numbers
    intent_agreement_threshold: (
        float  # a crisis intent counts when its confidence and this classifier's risk average this
    )
    laughing_crisis_threshold: float  # the crisis threshold for a message that laughs (hyperbole, mostly)

    @classmethod
    def load(cls, path: Path = SETTINGS_PATH) -> "RiskSettings":
        source = load_validated(path, "risk")
        data = source.data
        if data["unsure_threshold"] > data["crisis_threshold"]:
            raise source.error(data, "unsure_threshold", "unsure_threshold", "must not be above crisis_threshold")
        values = {
            name: float(data[name])
            for name in (
                "crisis_threshold",
                "unsure_threshold",
                "sure_intent_confidence",
                "intent_agreement_threshold",
                "laughing_crisis_threshold",
            )
        }
        return cls(context_turns=data["context_turns"], **values)


@dataclass(frozen=True)
class RiskScore:
    """One reading of a turn; logged by class and probability, never by text."""

    likeliest: str  # the likeliest risk class
    probability: float  # its probability
    from_context: bool = False  # read with the earlier messages

    @property
    def explanation(self) -> str:
        where = "context" if self.from_context else "message"
        return f"classifier {self.likeliest} p={self.probability:.2f} ({where})"


@dataclass(frozen=True)
class RiskReading:
    """A turn read alone and, when there were earlier messages, with them."""

    alone: RiskScore
    context: Optional[RiskScore] = None

    def best(self, with_context: bool = True) -> RiskScore:
        """The higher reading; ``with_context`` False after a turn answered as a crisis, whose
        words would otherwise make every next message (an "ok", a "thanks") a crisis again."""
        if with_context and self.context and self.context.probability > self.alone.probability:
            return self.context
        return self.alone


def examples(
    languages: Iterable[str], nlu_folder: Path = DATA_DIR / "nlu", risk_folder: Path = DATA_DIR / "risk"
) -> tuple[list[str], list[str]]:
    """Texts and labels: every NLU example (its crisis intent, else none) and every risk example."""
    return labelled(nlu_examples(languages, nlu_folder) + risk_examples(risk_folder))


def labelled(training: Iterable[Example]) -> tuple[list[str], list[str]]:
    """Texts and their risk labels: an NLU example's crisis intent, a risk example's label, else none."""
    found = list(training)
    return [e.text for e in found], [e.label if e.label in RISK_CLASSES else NONE for e in found]


def _fit(texts: Sequence[str], labels: Sequence[str]) -> Pipeline:
    model = Pipeline(
        [
            ("hash", HashingVectorizer(analyzer=analyse, n_features=2**18, alternate_sign=False, norm=None)),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
            ("lr", LogisticRegression(C=30.0, solver="liblinear", class_weight="balanced")),
        ]
    )
    return model.fit(list(texts), list(labels))


class RiskClassifier:
    def __init__(self, model: Pipeline, settings: RiskSettings) -> None:
        # Its steps, to run them without the pipeline's checks: TfidfTransformer rebuilds its idf
        # vector from a 262,144 x 262,144 diagonal on every call (1 ms a message).
        self._hasher: HashingVectorizer = model.named_steps["hash"]
        self._idf: npt.NDArray[np.float64] = model.named_steps["tfidf"].idf_
        self._lr: LogisticRegression = model.named_steps["lr"]
        self.settings = settings
        classes = list(model.classes_)
        self._risk_columns = [(name, classes.index(name)) for name in RISK_CLASSES if name in classes]

    @classmethod
    def load(cls, training: Iterable[Example], settings: Optional[RiskSettings] = None) -> "RiskClassifier":
        """Train on ``bot.datafiles.training``'s examples with the settings of ``data/risk.yml``."""
        return cls(_fit(*labelled(training)), settings or RiskSettings.load())

    def probabilities(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Per text, the probability of each risk class (columns in RISK_CLASSES order)."""
        features = self._hasher.transform(list(texts))  # CSR counts
        features.data = (np.log(features.data) + 1.0) * self._idf[features.indices]  # sublinear tf x idf
        proba: npt.NDArray[np.float64] = self._lr.predict_proba(normalize(features, copy=False))
        return proba[:, [column for _, column in self._risk_columns]]

    def assess(self, text: str, earlier: Sequence[str] = ()) -> RiskReading:
        """The risk of ``text``, read alone and after the ``earlier`` messages of the conversation."""
        earlier = (
            [t for t in earlier if t][-(self.settings.context_turns - 1) :] if self.settings.context_turns > 1 else []
        )
        proba = self.probabilities([text] + ([" ".join([*earlier, text])] if earlier else []))
        readings = [
            RiskScore(self._risk_columns[int(row.argmax())][0], float(row.max()), bool(i))
            for i, row in enumerate(proba)
        ]
        return RiskReading(*readings)
