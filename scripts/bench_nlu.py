"""NLU benchmark on the held-out messages: intents, crisis recall, false alarms, language, latency.

Each message goes through the trained model and the dialogue's decision (phrase lists, risk
classifier, menus), as the first message of a conversation already told the privacy notice.
Prints a table per language, then one JSON object per line for machines. Baselines measured in
the same run: the classifier without the crisis net, and langdetect alone for the language.
``floor_rate`` is the share of messages that are not crises answered with both numbers added
(the bot was unsure); ``turn_ms`` the time of one message, model and dialogue, one at a time.
Language accuracy leaves out requests to change language that name one ("english please" in the
Arabic file): the dialogue follows the child's explicit choice there, not the detector.

    make bench-nlu                                        # tests/heldout and tests/heldout-fresh
    python -m scripts.bench_nlu tests/heldout-fresh       # one set
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Optional

from bot import PROJECT_ROOT
from bot.conversation.dialogue import UNCLEAR_INTENTS, Dialogue, Outcome, Turn
from bot.conversation.triage import CRISIS_INTENTS
from bot.language.detection import LanguageHints, langdetect_probabilities, word_count
from bot.language.input_text import clean
from bot.wiring.heap import freeze_startup_objects
from scripts.heldout import Example, load

MODEL = PROJECT_ROOT / "models" / "helpline.tar.gz"
DEFAULT_SETS = [PROJECT_ROOT / "tests" / "heldout", PROJECT_ROOT / "tests" / "heldout-fresh"]


def macro_f1(pairs: Iterable[tuple[str, str]]) -> float:
    """Macro-averaged F1 over the true labels present."""
    pairs = list(pairs)
    labels = {truth for truth, _ in pairs}
    scores = []
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        fp = sum(1 for t, p in pairs if t != label and p == label)
        fn = sum(1 for t, p in pairs if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def share(flags: list[bool]) -> Optional[float]:
    return sum(flags) / len(flags) if flags else None


def normalise(intent: Optional[str]) -> str:
    return "out_of_scope" if intent in (*UNCLEAR_INTENTS, "check_in") else str(intent)


async def classify(examples: list[Example], dialogue: Dialogue) -> list[tuple[Optional[str], Outcome, float]]:
    """Per example: the classifier's intent, the dialogue's outcome, and the milliseconds both took."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(MODEL))
    freeze_startup_objects()  # as every server does once loaded (bot.wiring.heap)
    results = []
    for example in examples:
        started = time.perf_counter()
        parsed = await agent.parse_message(clean(example.text))
        outcome = dialogue.respond(
            Turn.parsed({**parsed, "metadata": {"country": example.country}}, {"privacy_told": "1"})
        )
        results.append(((parsed.get("intent") or {}).get("name"), outcome, (time.perf_counter() - started) * 1000))
    return results


def main(folders: list[Path]) -> int:
    if not MODEL.exists():
        print(f"No model at {MODEL}: run `make model` first.", file=sys.stderr)
        return 1
    examples = [example for folder in folders for example in load(folder)]
    print("held-out sets: " + ", ".join(str(folder) for folder in folders))
    dialogue = Dialogue.load()
    registry, detector = dialogue.registry, dialogue.detector

    results = asyncio.run(classify(examples, dialogue))
    times = sorted(ms for _, _, ms in results)
    p50, p99 = statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]

    rows = defaultdict(lambda: defaultdict(list))
    for example, (predicted, outcome, _) in zip(examples, results, strict=True):
        text = clean(example.text)
        final = normalise(outcome.need)
        classifier = normalise(predicted)
        row = rows[example.language]
        row["final"].append((example.intent, final))
        row["classifier"].append((example.intent, classifier))
        if example.intent in CRISIS_INTENTS:
            row["crisis_final"].append(final in CRISIS_INTENTS)
            row["crisis_classifier"].append(classifier in CRISIS_INTENTS)
        if example.hard_negative and example.intent not in CRISIS_INTENTS:
            row["false_alarm"].append(final in CRISIS_INTENTS)
        if example.intent not in CRISIS_INTENTS:
            row["floor"].append(not outcome.sure)
        if example.intent == "change_language" and registry.named_in(text):
            continue
        short = word_count(text) <= 3
        decided = detector.decide(text, LanguageHints(country=example.country)).language
        detected = langdetect_probabilities(text, registry)
        baseline = max(detected, key=detected.__getitem__) if detected else registry.default
        key = "short" if short else "long"
        row[f"lang_{key}"].append(decided == example.language)
        row[f"langdetect_{key}"].append(baseline == example.language)

    metrics = {}
    for language in registry.codes + ["all"]:
        selected = rows.values() if language == "all" else [rows[language]] if language in rows else []
        merged = defaultdict(list)
        for row in selected:
            for name, values in row.items():
                merged[name].extend(values)
        if not merged:
            continue
        metrics[language] = {
            "n": len(merged["final"]),
            "macro_f1": macro_f1(merged["final"]),
            "macro_f1_classifier": macro_f1(merged["classifier"]),
            "crisis_recall": share(merged["crisis_final"]),
            "crisis_recall_classifier": share(merged["crisis_classifier"]),
            "false_alarm_rate": share(merged["false_alarm"]),
            "floor_rate": share(merged["floor"]),
            "lang_acc_short": share(merged["lang_short"]),
            "lang_acc_long": share(merged["lang_long"]),
            "langdetect_acc_short": share(merged["langdetect_short"]),
            "langdetect_acc_long": share(merged["langdetect_long"]),
        }

    columns = list(next(iter(metrics.values())).keys())
    print("| lang | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for language, values in metrics.items():
        cells = [str(v) if isinstance(v, int) else ("-" if v is None else f"{v:.3f}") for v in values.values()]
        print(f"| {language} | " + " | ".join(cells) + " |")
    print(
        "\nper message, model and dialogue, one at a time (in-process Agent): "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(times)}"
    )
    for language, values in metrics.items():
        for metric, value in values.items():
            if value is not None and metric != "n":
                print(
                    json.dumps(
                        {
                            "bench": "nlu",
                            "language": language,
                            "metric": metric,
                            "value": round(value, 4),
                            "unit": "ratio",
                        }
                    )
                )
    print(
        json.dumps({"bench": "nlu", "language": "all", "metric": "turn_ms_p50", "value": round(p50, 2), "unit": "ms"})
    )
    print(
        json.dumps({"bench": "nlu", "language": "all", "metric": "turn_ms_p99", "value": round(p99, 2), "unit": "ms"})
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    sys.exit(main([Path(arg) for arg in sys.argv[1:]] or DEFAULT_SETS))
