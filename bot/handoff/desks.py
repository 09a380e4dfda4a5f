"""When a conversation goes to a human counsellor, and which helplines' desks take it.

A child who asks for a person, or speaks of self-harm, danger or online sexual abuse, is handed to
a counsellor of their country's helpline when that helpline takes handoffs (``data/handoff.yml``:
its name, waiting limit, hours, and optionally its own system's webhook). The dialogue decides
(``Outcome.handoff``; which needs, how urgently: the table of bot.conversation.needs);
bot.conversation.relay opens the ticket and speaks for the bot while it waits.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Optional
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import DATA_DIR
from bot.datafiles.yamlfile import LineDict, YamlFile, load_mapping
from bot.handoff.queue import HandoffQueue, MemoryHandoffQueue, RedisHandoffQueue, Risk
from bot.routing.countries import is_country_code
from bot.routing.opening_hours import Hours, HoursError, OpenState
from bot.stats import recorder_from_env
from bot.storage.retention import DAY_S, Retention
from bot.storage.stores import redis_client, redis_prefix

DESKS_VARIABLE = "HELPLINE_HANDOFF_FILE"
# Channels a counsellor's messages can reach (the web chat through its inbox). The rest channel
# (tests, simple integrations) answers only the request it gets, so its children get the
# helpline's number instead.
HANDOFF_CHANNELS = ("telegram", "sms", "whatsapp", "web")

DESK_FIELDS = {"name", "max_wait_minutes", "hours", "time_zone", "webhook", "transcript_days", "keep_on_erasure_days"}
WEBHOOK_FIELDS = {"url", "secret_variable"}
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
    def load(cls, environ: Mapping[str, str] = os.environ) -> "Desks":
        path = Path(environ.get(DESKS_VARIABLE) or DATA_DIR / "handoff.yml")
        source = load_mapping(path)
        entries = source.data.get("desks")
        if not isinstance(entries, dict):
            raise source.error(source.data, "desks", "desks", "must map country codes to desks")
        return cls({code: _desk(source, entries, code, environ) for code in entries})


def _desk(source: YamlFile, entries: LineDict, code: object, environ: Mapping[str, str]) -> Desk:
    field = f"desks.{code}"
    if not is_country_code(code) or code != str(code).upper():
        raise source.error(entries, code, field, "is not an upper-case ISO 3166-1 alpha-2 code")
    entry = entries[code]
    if not isinstance(entry, LineDict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise source.error(entries, code, f"{field}.name", "each desk needs a name")
    for key in entry:
        if key not in DESK_FIELDS:
            raise source.error(entry, key, f"{field}.{key}", f"is not a desk field ({', '.join(sorted(DESK_FIELDS))})")
    wait = entry.get("max_wait_minutes", 10)
    if not isinstance(wait, int) or isinstance(wait, bool) or not 1 <= wait <= 240:
        raise source.error(
            entry, "max_wait_minutes", f"{field}.max_wait_minutes", "must be a whole number of minutes, 1 to 240"
        )
    hours, zone = None, ZoneInfo("UTC")
    if "hours" in entry:
        try:
            hours = Hours.parse(entry["hours"])
        except HoursError as error:
            raise source.error(entry, "hours", f"{field}.hours", str(error)) from None
        try:
            zone = ZoneInfo(str(entry.get("time_zone")))
        except (ZoneInfoNotFoundError, ValueError):
            raise source.error(
                entry,
                "time_zone" if "time_zone" in entry else "hours",
                f"{field}.time_zone",
                "desk hours need the IANA time zone they are written in, such as Africa/Nairobi",
            ) from None
    webhook = _webhook(source, entry, f"{field}.webhook", environ) if "webhook" in entry else None
    days = {key: _days(source, entry, key, f"{field}.{key}") for key in ("transcript_days", "keep_on_erasure_days")}
    return Desk(
        str(code),
        entry["name"].strip(),
        wait,
        hours,
        zone,
        webhook,
        days["transcript_days"],
        days["keep_on_erasure_days"] or 0,
    )


def _days(source: YamlFile, entry: LineDict, key: str, field: str) -> Optional[int]:
    value = entry.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650):
        raise source.error(entry, key, field, "must be a whole number of days, 1 to 3650")
    return value


def _webhook(source: YamlFile, entry: LineDict, field: str, environ: Mapping[str, str]) -> Webhook:
    spec = entry["webhook"]
    if not isinstance(spec, LineDict):
        raise source.error(entry, "webhook", field, "must be a mapping with url and secret_variable")
    for key in spec:
        if key not in WEBHOOK_FIELDS:
            raise source.error(spec, key, f"{field}.{key}", "is not a webhook field (url, secret_variable)")
    url = urlsplit(str(spec.get("url", "")))
    local = url.hostname in ("127.0.0.1", "localhost", "::1")
    if url.scheme != "https" and not (url.scheme == "http" and local):
        raise source.error(
            spec, "url", f"{field}.url", "must be an https:// address (http only to this machine, for tests)"
        )
    variable = spec.get("secret_variable")
    if not isinstance(variable, str) or not variable:
        raise source.error(
            spec, "secret_variable", f"{field}.secret_variable", "must name the environment variable holding the secret"
        )
    secret = environ.get(variable, "")
    if len(secret) < MIN_SECRET_LENGTH:
        raise source.error(
            spec,
            "secret_variable",
            f"{field}.secret_variable",
            f"environment variable {variable} must hold a secret of at least {MIN_SECRET_LENGTH} characters",
        )
    return Webhook(url.geturl(), secret.encode())


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


def handoff_queue(url: str, desks: Desks, environ: Mapping[str, str] = os.environ) -> HandoffQueue:
    """The handoff queue on Redis at ``url``; in this process's memory when ``url`` is empty
    (the local quick start, where handoffs cannot reach a console in another process)."""
    stats = recorder_from_env(environ)  # the statistics count tickets as the queue changes them
    if not url:
        return MemoryHandoffQueue(observer=stats)
    return RedisHandoffQueue(
        redis_client(url), redis_prefix(environ) + "handoff:", transcript_keeping(desks, Retention.load()), stats
    )


def queue_from_env(desks: Desks, environ: Mapping[str, str] = os.environ) -> HandoffQueue:
    """The handoff queue for ``REDIS_URL`` (see handoff_queue)."""
    return handoff_queue((environ.get("REDIS_URL") or "").strip(), desks, environ)


STOP_WORDS = ("stop", "/stop")  # what ends a handoff from the child's side, on any channel
KEEP_WAITING, LEAVE_QUEUE = "1", "2"  # the child's answers once told the wait is long
