"""When a conversation goes to a human counsellor, and which helplines' desks take it.

A child who asks for a person, or speaks of self-harm, danger or online sexual abuse, is handed to
a counsellor of their country's helpline when that helpline takes handoffs (``data/handoff.yml``:
its name, waiting limit, hours, and optionally its own system's webhook). The dialogue decides
(``Outcome.handoff``; which needs, how urgently: the table of bot.conversation.needs);
bot.conversation.relay opens the ticket and speaks for the bot while it waits.

The file's shape is checked by ``bot/datafiles/schemas/handoff.yml``; here, opening hours are parsed
and each webhook's secret is found among the secrets the caller passes (``Desks.load`` reads no
environment variable).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping, Optional
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot import DATA_DIR
from bot.datafiles.schema import load_validated
from bot.datafiles.yamlfile import LineDict, YamlFile
from bot.handoff.queue import Risk
from bot.routing.opening_hours import Hours, HoursError, OpenState
from bot.storage.retention import DAY_S, Retention

DESKS_PATH = DATA_DIR / "handoff.yml"
NO_SECRETS: Mapping[str, str] = MappingProxyType({})
# Channels a counsellor's messages can reach (the web chat through its inbox). The rest channel
# (tests, simple integrations) answers only the request it gets, so its children get the
# helpline's number instead.
HANDOFF_CHANNELS = ("telegram", "sms", "whatsapp", "web")

MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class Webhook:
    """Where a helpline's own system takes its tickets (bot.handoff.partner), and the shared secret that
    signs both directions."""

    url: str
    secret: bytes


@dataclass(frozen=True)
class Desk:
    helpline: str  # the country code its queue is named by
    name: str
    max_wait_minutes: int
    hours: Optional[Hours] = None  # when counsellors take conversations; None: always
    time_zone: ZoneInfo = ZoneInfo("UTC")
    webhook: Optional[Webhook] = None
    transcript_days: Optional[int] = None  # how long closed conversations are kept; None: data/privacy.yml's
    keep_on_erasure_days: int = 0  # what a law makes the helpline keep when a child asks to delete (documented)

    def state(self, now: dt.datetime) -> OpenState:
        """Whether counsellors are there at ``now``, and when they come back."""
        return self.hours.state(self.time_zone, now) if self.hours else OpenState(open=True, always=True)


@dataclass(frozen=True)
class HandoffRequest:
    risk: Risk
    reason: str  # the need that triggered it


class Desks:
    """The helplines that take handoffs, by country."""

    def __init__(self, desks: Mapping[str, Desk]) -> None:
        self._desks = dict(desks)

    def get(self, country: Optional[str]) -> Optional[Desk]:
        return self._desks.get(country.upper()) if country else None

    def all(self) -> list[Desk]:
        return list(self._desks.values())

    @classmethod
    def load(cls, path: Path = DESKS_PATH, secrets: Mapping[str, str] = NO_SECRETS) -> "Desks":
        """The desks of ``path``; ``secrets`` maps the names webhooks give as ``secret_variable``
        (environment variables, read by the caller) to their values. ConfigError (file, line, field)
        for anything wrong."""
        source = load_validated(path, "handoff")
        entries = source.data["desks"]
        return cls({str(code): _desk(source, str(code), entries[code], secrets) for code in entries})


def _desk(source: YamlFile, code: str, entry: LineDict, secrets: Mapping[str, str]) -> Desk:
    field = f"desks.{code}"
    hours, zone = None, ZoneInfo("UTC")
    if "hours" in entry:
        try:
            hours = Hours.parse(entry["hours"])
        except HoursError as error:
            raise source.error(entry, "hours", f"{field}.hours", str(error)) from None
        zone = ZoneInfo(entry["time_zone"])  # the schema requires it with hours
    webhook = _webhook(source, entry["webhook"], f"{field}.webhook", secrets) if "webhook" in entry else None
    return Desk(
        code,
        entry["name"].strip(),
        entry.get("max_wait_minutes", 10),
        hours,
        zone,
        webhook,
        entry.get("transcript_days"),
        entry.get("keep_on_erasure_days") or 0,
    )


def _webhook(source: YamlFile, spec: LineDict, field: str, secrets: Mapping[str, str]) -> Webhook:
    variable = spec["secret_variable"]
    secret = secrets.get(variable, "")
    if len(secret) < MIN_SECRET_LENGTH:
        raise source.error(
            spec,
            "secret_variable",
            f"{field}.secret_variable",
            f"environment variable {variable} must hold a secret of at least {MIN_SECRET_LENGTH} characters",
        )
    return Webhook(urlsplit(spec["url"]).geturl(), secret.encode())


def transcript_keeping(desks: Desks, retention: Retention) -> Callable[[str], int]:
    """Seconds a helpline's closed conversations are kept: its desk's own period, else the default."""

    def seconds(helpline: str) -> int:
        desk = desks.get(helpline)
        return desk.transcript_days * DAY_S if desk and desk.transcript_days else retention.transcript_s

    return seconds


def erasure_hold(desks: Desks) -> Callable[[str], int]:
    """Seconds a helpline must keep a conversation its child asked to delete (0: delete now)."""

    def seconds(helpline: str) -> int:
        desk = desks.get(helpline)
        return desk.keep_on_erasure_days * DAY_S if desk else 0

    return seconds


STOP_WORDS = ("stop", "/stop")  # what ends a handoff from the child's side, on any channel
KEEP_WAITING, LEAVE_QUEUE = "1", "2"  # the child's answers once told the wait is long
