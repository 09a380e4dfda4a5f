"""The console's audit log: who claimed, took over, transferred or closed which ticket, and when.

One Redis stream per helpline, ``<prefix>audit:<helpline>``; each entry's id is its time (ms). An
entry names people and tickets, never what anyone wrote: no child's or counsellor's text is ever
passed here. It is kept for ``keep_days`` (CONSOLE_AUDIT_DAYS) and at most ``MAX_ENTRIES`` entries
per helpline: each write trims what is older, and a read never returns an entry past its period.
Supervisors and admins read their own helpline's (bot.handoff.casework).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Optional

from bot.storage.stores import RedisClient, as_text, stream_field

MAX_ENTRIES = 100_000  # per helpline: years of a busy desk's claims and closes
DAY_MS = 24 * 3600 * 1000
FIELDS = ("who", "role", "what", "ticket", "holder", "to", "outcome")


@dataclass(frozen=True)
class AuditEntry:
    """``holder``: who held the ticket before (a takeover); ``to``: whom or which desk it went to (a
    transfer); ``outcome``: the outcome code it was closed with."""

    who: str
    role: str
    what: str  # claim, takeover, transfer, close
    ticket: str
    holder: str = ""
    to: str = ""
    outcome: str = ""
    id: str = ""  # the stream's id, given when written: its time and place

    @property
    def at(self) -> str:
        """When it happened, UTC, to the second (from the entry's id)."""
        ms = int(self.id.split("-")[0]) if self.id else int(time.time() * 1000)
        return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="seconds")

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "at": self.at, **{name: getattr(self, name) for name in FIELDS}}


class AuditLog:
    def __init__(self, client: RedisClient, prefix: str, keep_days: int) -> None:
        self._redis, self._prefix, self.keep_ms = client, prefix, keep_days * DAY_MS

    def _key(self, helpline: str) -> str:
        return f"{self._prefix}audit:{helpline}"

    def _oldest(self) -> str:
        return str(int(time.time() * 1000) - self.keep_ms)

    async def write(self, helpline: str, entry: AuditEntry) -> str:
        """Append ``entry`` to the helpline's log, trimming what is past its period; returns its id."""
        key = self._key(helpline)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {name: getattr(entry, name) for name in FIELDS}, maxlen=MAX_ENTRIES, approximate=True)
            pipe.xtrim(key, minid=self._oldest(), approximate=True)
            pipe.pexpire(key, self.keep_ms)  # a helpline that goes quiet loses its log with the period
            written, *_ = await pipe.execute()
        return as_text(written)

    async def read(self, helpline: str, limit: int = 100, before: Optional[str] = None) -> list[AuditEntry]:
        """The helpline's latest ``limit`` entries within the period, newest first; ``before``: an entry's
        id, to read on from there (older ones)."""
        newest = f"({before}" if before else "+"
        found = await self._redis.xrevrange(self._key(helpline), max=newest, min=self._oldest(), count=limit)
        return [
            AuditEntry(**{name: stream_field(fields, name) for name in FIELDS}, id=as_text(entry_id))
            for entry_id, fields in found
        ]
