"""Where a fact in a data file comes from: every helpline number, outcome and statistics category
names the page it rests on and the day someone read it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class Source:
    url: str
    read: dt.date  # when we read it
    quote: Optional[str] = None  # the words on the page that show the fact


def sources_of(entries: Iterable[Mapping[str, Any]]) -> tuple[Source, ...]:
    """Sources from a file's ``sources`` list, once its schema has checked it (common.yml's ``source``)."""
    return tuple(Source(e["url"], e["read"], e["quote"].strip() if e.get("quote") else None) for e in entries)
