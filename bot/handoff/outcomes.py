"""The outcome categories a counsellor picks when closing a conversation (``data/outcomes.yml``).

Tickets store an outcome's ``code``, and reports (ours, helplines', Child Helpline International's)
count by it, so codes must be unique snake_case and a broken file stops start-up rather than let a
console offer a category nobody can count. Its shape is checked by ``bot/datafiles/schemas/outcomes.yml``;
errors name the file, the line and the field. The file
also says where the categories come from (``sources``, each read on a date), because CHI's own
list of outcomes could not be confirmed and whoever maps these codes onto it later needs to know.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from bot import DATA_DIR
from bot.datafiles import coded_lists
from bot.datafiles.schema import load_validated
from bot.datafiles.sources import Source

OUTCOMES_PATH = DATA_DIR / "outcomes.yml"
# CHI's data reports split contacts into counselling contacts and the rest; `chi` says which side.
CHI_SPLIT = ("counselling contact", "not a counselling contact")  # as the schema's chi
# Outcomes the product records by itself; the file must have them.
CHILD_LEFT = "child_left"  # the child said stop
HANDED_BACK = "handed_back_to_bot"  # the counsellor gave the conversation back to the bot
REQUIRED = (CHILD_LEFT, HANDED_BACK)


class UnknownOutcome(ValueError):
    """A close asked for with a code that is not in data/outcomes.yml."""


@dataclass(frozen=True)
class Outcome:
    code: str  # stable: stored on tickets and counted in reports
    label: str  # what the counsellor reads, in English
    chi: Optional[str] = None  # one of CHI_SPLIT, when the category alone decides it


class Outcomes:
    """The categories in the file's order (the order the console offers them)."""

    def __init__(self, outcomes: Iterable[Outcome], sources: Iterable[Source] = ()) -> None:
        self._by_code = {outcome.code: outcome for outcome in outcomes}
        self.sources = tuple(sources)

    @property
    def codes(self) -> list[str]:
        return list(self._by_code)

    def get(self, code: Optional[str]) -> Optional[Outcome]:
        return self._by_code.get(code) if code else None

    def check(self, code: str) -> str:
        """``code`` if it is a category here; UnknownOutcome (listing them) otherwise."""
        if self.get(code) is None:
            raise UnknownOutcome(f"outcome must be one of {', '.join(self.codes)}")
        return code

    def all(self) -> list[Outcome]:
        return list(self._by_code.values())

    @classmethod
    def load(cls, path: Path = OUTCOMES_PATH) -> "Outcomes":
        """Load and check the file; raise ConfigError (file, line, field) at the first defect."""
        source = load_validated(path, "outcomes")
        outcomes: list[Outcome] = []
        first_line: dict[str, int] = {}
        for field, item in coded_lists.items(source, "outcomes"):
            outcome = Outcome(item["code"], item["label"].strip(), item.get("chi"))
            coded_lists.once(source, item, field, "code", outcome.code, first_line)
            outcomes.append(outcome)
        for code in REQUIRED:
            if code not in first_line:
                raise source.error(
                    source.data, "outcomes", "outcomes", f"must include {code!r}: the bot records it by itself"
                )
        return cls(outcomes, coded_lists.sources(source))
