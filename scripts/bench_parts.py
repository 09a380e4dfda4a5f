"""Per-message parts, each against the Rasa or langdetect code it replaced, in one process.

- langdetect's ``detect_langs`` and ours (bot/language/quick_langdetect.py) on every NLU example
  of our languages and on three short messages: ms per text, and how many answers differ;
- the model's parse of "thank you bye" with dask and with channels/graph_order.py;
- the action server's answer checked by Rasa's whole ``oneOf`` schema and by kind
  (channels/rasa_speedups.py), for a one-event and an eleven-event answer.

    make bench-parts        # about a minute; needs the trained model
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

from langdetect import detect_langs as langdetect_detect_langs
from langdetect.lang_detect_exception import LangDetectException

import channels  # noqa: F401 - installs the speed-ups, as Rasa loading our channels does
from bot.datafiles.training import nlu_examples
from bot.language.detection import LanguageRegistry
from bot.language.quick_langdetect import detect_langs
from channels.graph_order import _rasa_run, _run
from channels.rasa_speedups import _validate_action_result, response_validator
from scripts.figures import print_figures
from scripts.local_bot import MODEL

SHORT = ["thank you bye", "i want to talk to someone", "je suis tres triste et seul"]
ONE_EVENT = {"events": [{"event": "slot", "name": "language", "value": "en"}], "responses": [{"text": "Hi."}]}
ELEVEN_EVENTS = {
    "events": [
        {"event": "slot", "name": "privacy_told", "value": "1"},
        {"event": "slot", "name": "country", "value": None},
        {"event": "slot", "name": "language", "value": "en"},
        {"event": "slot", "name": "menu", "value": None},
        {"event": "bot", "text": "Hi, I am here to help.", "data": {}, "metadata": {}},
        {"event": "bot", "text": "If you are in danger right now, call 999.", "metadata": {}},
        {"event": "slot", "name": "need", "value": "greeting"},
        {"event": "slot", "name": "risk", "value": None},
        {"event": "slot", "name": "turns", "value": 1},
        {"event": "slot", "name": "sure", "value": "0"},
        {"event": "followup", "name": "action_listen"},
    ],
    "responses": [{"text": "Hi, I am here to help."}],
}


def per_call_ms(work: Callable[[], Any], repeat: int) -> float:
    work()
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - started) * 1000 / repeat


def answers(detect: Callable[[str], Any], texts: list[str]) -> list[Any]:
    found: list[Any] = []
    for text in texts:
        try:
            found.append([(guess.lang, guess.prob) for guess in detect(text)])
        except LangDetectException as error:
            found.append(str(error))
    return found


def main() -> int:
    if not MODEL.exists():
        print(f"No model at {MODEL}: run `make model` first.", file=sys.stderr)
        return 1
    figures: dict[str, float] = {}
    texts = [example.text for example in nlu_examples(LanguageRegistry().codes)]
    for name, detect in (("langdetect", langdetect_detect_langs), ("quick", detect_langs)):
        started = time.perf_counter()
        found = answers(detect, texts)
        figures[f"{name}_ms_per_example"] = (time.perf_counter() - started) * 1000 / len(texts)
        figures[f"{name}_ms_short"] = sum(per_call_ms(lambda t=t, d=detect: d(t), 100) for t in SHORT) / len(SHORT)
        if name == "langdetect":
            expected = found
    figures["examples"] = len(texts)
    figures["answers_that_differ"] = sum(a != b for a, b in zip(expected, found, strict=True))

    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = Agent.load(str(MODEL)).processor
    message, tracker = UserMessage("thank you bye", sender_id="bench"), DialogueStateTracker.from_events("bench", [])
    for name, run in (("dask", _rasa_run), ("ordered", _run)):
        DaskGraphRunner.run = run
        figures[f"parse_ms_{name}"] = per_call_ms(
            lambda: processor._parse_message_with_graph(message, tracker, True), 500
        )
    for label, answer in (("1_event", ONE_EVENT), ("11_events", ELEVEN_EVENTS)):
        figures[f"check_ms_{label}_oneof"] = per_call_ms(lambda a=answer: response_validator().validate(a), 200)
        figures[f"check_ms_{label}_by_kind"] = per_call_ms(lambda a=answer: _validate_action_result(None, a), 200)
    print_figures("parts", figures, {"examples": "texts", "answers_that_differ": "texts"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
