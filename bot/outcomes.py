"""The outcome categories a counsellor picks when closing a conversation (``data/outcomes.yml``).

Tickets store an outcome's ``code``, and reports (ours, helplines', Child Helpline International's)
count by it, so codes must be unique snake_case and a broken file stops start-up rather than let a
console offer a category nobody can count. Errors name the file, the line and the field. The file
also says where the categories come from (``sources``, each read on a date), because CHI's own
list of outcomes could not be confirmed and whoever maps these codes onto it later needs to know.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from bot import DATA_DIR
from bot.helplines import Source
from bot.yamlfile import LineDict, YamlFile, load_mapping

OUTCOMES_PATH = DATA_DIR / "outcomes.yml"
# CHI's data reports split contacts into counselling contacts and the rest; `chi` says which side.
CHI_SPLIT = ("counselling contact", "not a counselling contact")
_CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_FIELDS = {"code", "label", "chi"}
# Outcomes the product records by itself; the file must have them.
CHILD_LEFT = "child_left"  # the child said stop
HANDED_BACK = "handed_back_to_bot"  # the counsellor gave the conversation back to the bot
REQUIRED = (CHILD_LEFT, HANDED_BACK)
_SOURCE_FIELDS = {"url", "read", "quote"}


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
        source = load_mapping(path)
        for key in source.data:
            if key not in ("sources", "outcomes"):
                raise source.error(source.data, key, str(key), "is not a field here (expected sources and outcomes)")
        sources = _sources(source)
        items = source.data.get("outcomes")
        if not isinstance(items, list) or not items:
            raise source.error(source.data, "outcomes", "outcomes", "must be a list of {code, label, chi}")
        outcomes: list[Outcome] = []
        first_line: dict[str, int] = {}
        for i, item in enumerate(items):
            field = f"outcomes[{i}]"
            if not isinstance(item, LineDict):
                raise source.error(source.data, "outcomes", field, "must be a mapping with code, label and chi")
            outcome = _outcome(source, item, field)
            if outcome.code in first_line:
                raise source.error(
                    item, "code", f"{field}.code", f"{outcome.code!r} is already used on line {first_line[outcome.code]}"
                )
            first_line[outcome.code] = item.line_of("code")
            outcomes.append(outcome)
        for code in REQUIRED:
            if code not in first_line:
                raise source.error(source.data, "outcomes", "outcomes", f"must include {code!r}: the bot records it by itself")
        return cls(outcomes, sources)


def _outcome(source: YamlFile, item: LineDict, field: str) -> Outcome:
    for key in item:
        if key not in _FIELDS:
            raise source.error(item, key, f"{field}.{key}", f"is not a field here (expected one of {', '.join(sorted(_FIELDS))})")
    code = item.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise source.error(item, "code", f"{field}.code", f"{code!r} must be snake_case, such as counselling_given")
    label = item.get("label")
    if not isinstance(label, str) or not label.strip():
        raise source.error(item, "label", f"{field}.label", "must be a non-empty text")
    chi = item.get("chi")
    if chi is not None and chi not in CHI_SPLIT:
        raise source.error(item, "chi", f"{field}.chi", f"must be one of: {', '.join(CHI_SPLIT)} (or left out)")
    return Outcome(code, label.strip(), chi)


def _sources(source: YamlFile) -> tuple[Source, ...]:
    """Where the categories come from: every source says what was read and when."""
    entries = source.data.get("sources")
    if not isinstance(entries, list) or not entries:
        raise source.error(source.data, "sources", "sources", "must list the pages the categories are based on (url, read, quote)")
    found = []
    for i, entry in enumerate(entries):
        where = f"sources[{i}]"
        if not isinstance(entry, LineDict):
            raise source.error(source.data, "sources", where, "must be a mapping with url, read and quote")
        for key in entry:
            if key not in _SOURCE_FIELDS:
                raise source.error(entry, key, f"{where}.{key}", "is not a field here (expected url, read, quote)")
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or " " in url:
            raise source.error(entry, "url", f"{where}.url", "must be an http(s) address")
        read = entry.get("read")
        if not isinstance(read, dt.date) or isinstance(read, dt.datetime) or read > dt.date.today():
            raise source.error(entry, "read", f"{where}.read", "must be the date you read it, as YYYY-MM-DD (not in the future)")
        quote = entry.get("quote")
        if quote is not None and (not isinstance(quote, str) or not quote.strip()):
            raise source.error(entry, "quote", f"{where}.quote", "must be a non-empty text (or left out)")
        found.append(Source(url, read, quote.strip() if quote else None))
    return tuple(found)
