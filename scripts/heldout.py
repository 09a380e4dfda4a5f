"""Held-out messages (tests/heldout/ and tests/heldout-fresh/, <lang>.yml): never trained on.

Both sets were written apart from the training data; heldout-fresh by someone who never saw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from bot import PROJECT_ROOT

HELDOUT_DIR = PROJECT_ROOT / "tests" / "heldout"


@dataclass(frozen=True)
class Example:
    language: str
    text: str
    intent: str
    country: Optional[str]
    hard_negative: bool


def load(folder: Path = HELDOUT_DIR) -> list[Example]:
    examples = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for item in data["messages"]:
            examples.append(
                Example(
                    language=data["language"],
                    text=str(item["text"]),
                    intent=item["intent"],
                    country=item.get("country"),
                    hard_negative=bool(item.get("hard_negative", False)),
                )
            )
    return examples
