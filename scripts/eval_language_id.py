"""Language ID alone on a set whose messages each name their language (``tests/blind/uz-cyrillic``:
Uzbek in Cyrillic and Russian from Uzbekistan), decided with the set's country and without it:
``.venv/bin/python -m scripts.eval_language_id tests/blind/uz-cyrillic/uz-ru.yml``."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Optional

import yaml

from bot.conversation.dialogue import Dialogue
from bot.language.detection import SHORT_MESSAGE_WORDS, LanguageHints, word_count


def main(path: Path) -> None:
    detector = Dialogue.load().detector
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    countries: list[Optional[str]] = [data["country"], None]
    for country in countries:
        right: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for message in data["messages"]:
            length = "1-3 words" if word_count(message["text"]) <= SHORT_MESSAGE_WORDS else "longer"
            key = f"{message['language']}, {length}"
            total[key] += 1
            decided = detector.decide(message["text"], LanguageHints(country=country)).language
            right[key] += decided == message["language"]
            if decided != message["language"]:
                print(f"  country {country}: {message['text']!r} read as {decided}")
        print(f"country {country}: " + ", ".join(f"{key} {right[key]}/{total[key]}" for key in sorted(total)))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
