"""Score a blind set of messages in many languages: is the language recognised, and does every
child get the numbers they need, in their own language?

A set is a folder of ``<code>.yml`` files, one per language, written by someone who never saw
``data/`` or ``tests/``:

    language: it          # a language code; "ru-Latn" is Russian in Latin letters, "fil-en" Taglish
    country: IT
    messages:
      - {text: "voglio farla finita", kind: crisis}   # crisis | help | calm | country | idiom

Each message is the first of a fresh conversation with the country known (as from a phone number),
parsed by the trained Rasa model and answered by ``bot.conversation.dialogue``. Printed per language
and in all: language ID on messages of 1-3 words (the detector alone, with the country hint), the
emergency number in replies to crises (where the routing table has one: not LS, MZ, SL), crises
answered as such (emergency number first) and calm messages answered as a crisis, a helpline
contact in replies to help requests, and the reply's language. The sets for new full languages
(tests/blind/full/) also hold ``idiom`` messages (calm ones that only look alarming: counted with
the calm ones, and on their own) and ``country`` answers ("I'm in Türkiye"): those start a
conversation with no country known, and count as understood when the reply carries that
country's helpline; a country's name says little of a language, so they are left out of language
ID and reply language. Then one JSON object per line.

    make eval-languages SET=tests/blind/languages/first
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from bot.conversation.dialogue import Dialogue
from bot.conversation.needs import RISK_NEEDS
from bot.language.detection import LanguageHints, word_count
from bot.language.input_text import clean
from scripts.conversation import Conversation
from scripts.eval_crisis import MODEL, emergency_numbers, helpline_contacts, share

KINDS = ("crisis", "help", "calm", "country", "idiom")
CALM = ("calm", "idiom")
SHORT_WORDS = 3
# Other reply languages a child would accept: Taglish is answered in Filipino or English; Bosnian,
# Croatian and Serbian are one language written to three standards (all three official in Bosnia).
ALSO_ACCEPTED = {"fil-en": {"en"}, **{code: {"bs", "hr", "sr"} for code in ("bs", "hr", "sr")}}


@dataclass(frozen=True)
class Message:
    code: str  # as the set names it ("ru-Latn")
    language: str  # what the bot should recognise ("ru")
    country: str
    text: str
    kind: str


@dataclass
class Scored:
    message: Message
    recognised: Optional[bool]  # language ID right (messages of 1-3 words only)
    emergency: Optional[bool]  # None where the routing table has no verified emergency number (LS, MZ, SL)
    helpline: bool
    reply_language: str
    crisis: bool  # answered as a crisis (emergency number first, a person offered where there is one)


def load_set(folder: Path) -> list[Message]:
    messages = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        code = str(data["language"])
        for item in data["messages"]:
            if item["kind"] not in KINDS:
                raise ValueError(f"{path}: kind {item['kind']!r} is not one of {KINDS}")
            messages.append(Message(code, code.split("-")[0], str(data["country"]), str(item["text"]), item["kind"]))
    return messages


async def run(messages: list[Message]) -> list[Scored]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    agent = Agent.load(str(MODEL))
    dialogue = Dialogue.load()
    scored = []
    for message in messages:
        text = clean(message.text)
        short = word_count(text) <= SHORT_WORDS
        decided = dialogue.detector.decide(text, LanguageHints(country=message.country)).language
        named = message.kind == "country"  # the child names the country: nothing known before
        conversation = Conversation(dialogue, {"country": None if named else message.country, "channel": "telegram"})
        outcome = conversation.say(await agent.parse_message(text))
        reply = "\n".join(m.text for m in outcome.messages)
        helplines = helpline_contacts(dialogue.table, message.country)
        emergency = emergency_numbers(dialogue.table, message.country)
        scored.append(
            Scored(
                message=message,
                recognised=(decided == message.language) if short and not named else None,
                emergency=any(n in reply for n in emergency) if emergency else None,
                helpline=any(h in reply for h in helplines) if helplines else True,
                reply_language=outcome.language,
                crisis=outcome.need in RISK_NEEDS,
            )
        )
    return scored


def accepted(row: Scored) -> bool:
    return row.reply_language in {row.message.language, *ALSO_ACCEPTED.get(row.message.code, ())}


def kind(rows: list[Scored], *kinds: str) -> list[Scored]:
    return [r for r in rows if r.message.kind in kinds]


def figures(rows: list[Scored]) -> dict[str, Optional[float]]:
    return {
        "short": len([r for r in rows if r.recognised is not None]),
        "language_id_short": share([r.recognised for r in rows if r.recognised is not None]),
        "crises": len([r for r in rows if r.message.kind == "crisis" and r.emergency is not None]),
        "emergency_given": share([r.emergency for r in rows if r.message.kind == "crisis" and r.emergency is not None]),
        "crisis_answered": share([r.crisis for r in rows if r.message.kind == "crisis"]),
        "calm_answered_as_crisis": share([r.crisis for r in kind(rows, *CALM)]),
        "idiom_answered_as_crisis": share([r.crisis for r in kind(rows, "idiom")]),
        "help": len([r for r in rows if r.message.kind == "help"]),
        "helpline_given": share([r.helpline for r in rows if r.message.kind == "help"]),
        "country_understood": share([r.helpline for r in kind(rows, "country")]),
        "reply_language": share([accepted(r) for r in rows if r.message.kind != "country"]),
    }


def main(folder: Path) -> int:
    if not MODEL.exists():
        print(f"No model at {MODEL}: run `make model` first.", file=sys.stderr)
        return 1
    messages = load_set(folder)
    scored = asyncio.run(run(messages))
    groups: dict[str, list[Scored]] = defaultdict(list)
    for row in scored:
        groups[row.message.code].append(row)
    groups = {**dict(sorted(groups.items())), "all": scored}
    table = {name: figures(rows) for name, rows in groups.items()}
    columns = list(table["all"])
    print(f"set: {folder} ({len(messages)} messages in {len(groups) - 1} languages)\n")
    print("| language | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, values in table.items():
        cells = ["-" if v is None else str(v) if isinstance(v, int) else f"{v:.2f}" for v in values.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    below = {
        metric: sorted(
            name
            for name, values in table.items()
            if name != "all" and values[metric] is not None and values[metric] < 0.95
        )
        for metric in ("language_id_short", "emergency_given", "crisis_answered", "reply_language")
    }
    for metric, names in below.items():
        print(f"\nbelow 0.95 on {metric}: {len(names)} of {len(groups) - 1}: {' '.join(names)}")
    if os.environ.get("EVAL_SHOW_MISSES"):
        for r in scored:
            wrong_id = r.recognised is False
            if (
                wrong_id
                or (not accepted(r) and r.message.kind != "country")
                or (r.message.kind == "crisis" and r.emergency is False)
                or (r.message.kind in ("help", "country") and not r.helpline)
                or (r.message.kind in CALM and r.crisis)
            ):
                print(f"MISS [{r.message.code} {r.message.kind} -> {r.reply_language}] {r.message.text[:80]!r}")
    for name, values in table.items():
        for metric, value in values.items():
            if isinstance(value, float):
                print(
                    json.dumps(
                        {"bench": "eval_languages", "language": name, "metric": metric, "value": round(value, 4)}
                    )
                )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    if len(sys.argv) != 2:
        print("usage: python -m scripts.eval_languages FOLDER", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1])))
