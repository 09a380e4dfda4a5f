"""The examples the bot's own models learn from, read in one place.

Rasa's NLU files (``data/nlu/<lang>/*.yml``) teach intents; the risk files (``data/risk/*.yml``)
teach the risk classifier what the NLU data lacks: veiled risk, romanised and noisy spellings,
mixed languages, calm look-alikes and short conversations. A risk file of one of our languages
(``language: ru``) also teaches the language detector how that language is written, romanised
forms included; ``language: xx`` is for files that mix languages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

from bot import DATA_DIR
from bot.datafiles.schema import load_validated

RISK_LABELS = ("self_harm", "danger_now", "online_sexual_abuse", "none")  # as in the schema
MIXED = "xx"  # the language of a risk file that mixes languages


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # the NLU intent, or the risk label
    language: str  # one of ours, or MIXED


def nlu_examples(languages: Iterable[str], folder: Path = DATA_DIR / "nlu") -> list[Example]:
    """Every example of ``folder/<lang>/*.yml`` for each language, with its intent."""
    found = []
    for language in languages:
        for path in sorted((folder / language).glob("*.yml")):
            for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []) or []:
                for line in str(block.get("examples", "")).splitlines():
                    if line.strip().startswith("- "):
                        found.append(Example(line.strip()[2:].strip(), str(block.get("intent")), language))
    return found


def language_examples(languages: Iterable[str], folder: Path = DATA_DIR / "language_id") -> list[Example]:
    """Messages in the numbers-first languages (``folder/<lang>.yml``: ``examples``), which the
    language detector learns; no intents (the bot does not fully speak these languages)."""
    found = []
    for language in languages:
        source = load_validated(folder / f"{language}.yml", "language_examples")
        found += [Example(str(text), "", language) for text in source.data["examples"]]
    return found


def risk_examples(folder: Path = DATA_DIR / "risk") -> list[Example]:
    """Every message and conversation of the risk files (a conversation as its messages joined,
    as the classifier reads the end of one); a malformed file raises ConfigError naming the line
    (its schema: ``bot/datafiles/schemas/risk_examples.yml``)."""
    found = []
    for path in sorted(folder.glob("*.yml")):
        source = load_validated(path, "risk_examples")
        language = str(source.data.get("language") or MIXED)
        conversations = source.data.get("conversations", {})
        for label in RISK_LABELS:
            entries, chats = source.data.get(label, []), conversations.get(label, [])
            found += [Example(text, label, language) for text in entries + [" ".join(chat) for chat in chats]]
    return found
