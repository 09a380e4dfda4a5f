"""Where a fact in a data file comes from: every helpline number, outcome and statistics category
names the page it rests on and the day someone read it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Source:
    url: str
    read: dt.date  # when we read it
    quote: Optional[str] = None  # the words on the page that show the fact
