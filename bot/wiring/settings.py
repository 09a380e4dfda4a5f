"""Every setting the bot reads from its environment, read once and checked at start-up.

This is the only module that reads ``os.environ`` (a test checks): the rest of the code receives
a :class:`Settings` (or the services built from it, bot.wiring.services) and never looks for a
variable itself, so a typo'd or malformed setting stops the process at start-up, named, instead
of failing a child's message later. The README's configuration table is generated from the fields
below (``python -m bot.wiring settings``), so it cannot drift from the code.

Channel secrets (Telegram's token, Twilio's account) are read by Rasa itself from credentials.yml,
where the channels check them; their variables are listed in the same table, from that file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

import yaml

from bot import DATA_DIR, PROJECT_ROOT

DEFAULT_PREFIX = "helpline:"
_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CREDENTIAL_VARIABLE = re.compile(r"\$\{(\w+)\}")
IPNetwork = IPv4Network | IPv6Network


class SettingsError(ValueError):
    """A setting is malformed; the message names the variable and says what it must be."""


def _setting(variable: str, default: Any, help: str, bounds: tuple[int, int] = (1, 65535)) -> Any:
    """A field read from ``variable``; an int field must lie within ``bounds``."""
    return field(default=default, metadata={"variable": variable, "help": help, "bounds": bounds})


@dataclass(frozen=True)
class Settings:
    """What the environment says, checked. Build with :meth:`from_environ`; tests pass a dict."""

    redis_url: str = _setting(
        "REDIS_URL",
        "",
        "The shared Redis (conversations, handoff queues, dedupe, statistics), e.g. `redis://127.0.0.1:6379/0`. "
        "Unset: everything lives in this process's memory (the local quick start).",
    )
    redis_prefix: str = _setting(
        "HELPLINE_REDIS_PREFIX",
        DEFAULT_PREFIX,
        "Prefix of every Redis key the bot writes, so several bots (or test runs) can share one Redis.",
    )
    redis_timeout_ms: int = _setting(
        "REDIS_TIMEOUT_MS",
        300,
        "Connect and command time limit of every Redis call: a refused or frozen Redis costs a child at most "
        "this before the fail-safe reply with the numbers.",
        (20, 5000),
    )
    redis_max_connections: int = _setting(
        "REDIS_MAX_CONNECTIONS",
        50,
        "Most connections one process opens to Redis; a call that finds none free waits `REDIS_TIMEOUT_MS`, "
        "then fails safe.",
        (2, 10000),
    )
    redis_waiting_connections: int = _setting(
        "REDIS_WAITING_CONNECTIONS",
        1000,
        "Most connections one process holds open for reads that wait in Redis on purpose: one per web chat "
        "page or console waiting for news. A page that finds none free is told to ask again; keep Redis's "
        "`maxclients` above this times the number of processes.",
        (2, 10000),
    )
    turns_at_once: int = _setting(
        "HELPLINE_TURNS_AT_ONCE",
        8,
        "Most Telegram, SMS and WhatsApp turns one server runs at once; the others wait in order, and a message "
        "the crisis phrase lists flag goes first (bot/storage/turn_gate.py).",
        (1, 1000),
    )
    shutdown_s: int = _setting(
        "HELPLINE_SHUTDOWN_S",
        10,
        "On SIGTERM, how long a server lets the turns it has started finish before handing the rest to another server.",
        (0, 600),
    )
    sender_key: str = _setting(
        "HELPLINE_SENDER_KEY",
        "",
        "Secret key (32+ characters) of the hashed sender ids. Required with `REDIS_URL`; "
        "without it a key is made up for the process.",
    )
    handoff_file: Path = _setting(
        "HELPLINE_HANDOFF_FILE",
        DATA_DIR / "handoff.yml",
        "The helplines that take conversations (desks), their hours and webhooks.",
    )
    credentials_file: Path = _setting(
        "HELPLINE_CREDENTIALS",
        PROJECT_ROOT / "credentials.yml",
        "The channels' credentials shared by every server: a server sends the outbox's messages on each channel "
        "configured there (its variables set), also those its own Rasa `--credentials` leaves out.",
    )
    public_url: str = _setting(
        "PUBLIC_URL",
        "",
        "The bot's public https address, for Telegram's webhook and Twilio's signatures.",
    )
    telegram_api_base_url: str = _setting(
        "TELEGRAM_API_BASE_URL",
        "",
        "Another Bot API server (tests point it at a fake one); unset: Telegram's.",
    )
    console_host: str = _setting("CONSOLE_HOST", "127.0.0.1", "Where the counsellors' console listens.")
    console_port: int = _setting("CONSOLE_PORT", 5080, "The console's port.")
    delivery_max_age_s: int = _setting(
        "HELPLINE_DELIVERY_MAX_AGE_S",
        3600,
        "How long a message to a child (a counsellor's, a notice) is tried again while its channel fails; "
        "then it is marked failed, too old, and the counsellor is told.",
        (60, 7 * 24 * 3600),
    )
    outbox_consumer: str = _setting(
        "HELPLINE_OUTBOX_CONSUMER",
        "",
        "This server's name among the outbox's senders. Unset: host name and process id. A stable name "
        "(one per server) lets a restarted server go on at once with the messages it was sending.",
    )
    outbox_claim_idle_s: int = _setting(
        "HELPLINE_OUTBOX_CLAIM_IDLE_S",
        5,
        "After how long without a sign of life another server takes over the messages a server was sending.",
        (1, 3600),
    )
    console_proxies: str = _setting(
        "CONSOLE_PROXIES",
        "",
        "Addresses (or networks, `10.0.0.0/8`) of the reverse proxies in front of the console, comma-separated: "
        "only their `X-Forwarded-For` is believed when failed logins are counted per client address.",
    )
    console_login_tries: int = _setting(
        "CONSOLE_LOGIN_TRIES",
        5,
        "Failed logins on one account before it is locked for a while (each failure also waits a little longer).",
        (1, 100),
    )
    console_address_tries: int = _setting(
        "CONSOLE_ADDRESS_TRIES",
        30,
        "Failed logins from one client address (an IPv6 /64), whatever the accounts, before it is locked.",
        (1, 10000),
    )
    console_lock_s: int = _setting(
        "CONSOLE_LOCK_S",
        60,
        "The first lock after too many failed logins; each further failure doubles it, up to `CONSOLE_LOCK_MAX_S`.",
        (1, 86400),
    )
    console_lock_max_s: int = _setting(
        "CONSOLE_LOCK_MAX_S", 900, "The longest a login lock lasts (a failure counts for twice this).", (1, 86400)
    )
    console_audit_days: int = _setting(
        "CONSOLE_AUDIT_DAYS",
        365,
        "How long the console's audit log (who claimed, took over, transferred or closed which ticket) is kept.",
        (1, 3650),
    )
    environment: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """The environment as read, for secrets whose variable a data file names (a desk's webhook
    ``secret_variable`` in handoff.yml) and for the credentials of the channels Rasa starts."""

    @classmethod
    def from_environ(cls, environ: Optional[Mapping[str, str]] = None) -> "Settings":
        """Read and check every setting; raises :class:`SettingsError` naming the variable."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for spec in fields(cls):
            variable = spec.metadata.get("variable")
            if variable is None:
                continue
            raw = (env.get(variable) or "").strip()
            if not raw:
                continue
            if spec.type in ("int", int):
                values[spec.name] = _number(variable, raw, *spec.metadata["bounds"])
            elif spec.type in ("Path", Path):
                values[spec.name] = _file(variable, raw)
            else:
                values[spec.name] = raw
        settings = cls(**values, environment=MappingProxyType(env))
        settings._check()
        return settings

    @property
    def in_memory(self) -> bool:
        """No Redis: every store lives in this process (the local quick start)."""
        return not self.redis_url

    def secret(self, variable: str) -> str:
        """The value of a variable a data file names (empty when unset)."""
        return self.environment.get(variable, "")

    def _check(self) -> None:
        if self.redis_url:
            _redis_url(self.redis_url)
        if not _PREFIX.match(self.redis_prefix):
            raise SettingsError(
                "HELPLINE_REDIS_PREFIX must be 1 to 64 letters, digits or _ . : - "
                f"(e.g. {DEFAULT_PREFIX!r}), not {self.redis_prefix!r}"
            )
        if self.outbox_consumer and not _PREFIX.match(self.outbox_consumer):
            raise SettingsError(
                f"HELPLINE_OUTBOX_CONSUMER must be 1 to 64 letters, digits or _ . : -, not {self.outbox_consumer!r}"
            )
        for variable, url in (("PUBLIC_URL", self.public_url), ("TELEGRAM_API_BASE_URL", self.telegram_api_base_url)):
            if url and urlsplit(url).scheme not in ("https", "http"):
                raise SettingsError(f"{variable} must be an https:// address, not {url!r}")
        self.proxies  # noqa: B018 - raises SettingsError on a malformed address
        if self.console_lock_max_s < self.console_lock_s:
            raise SettingsError(
                f"CONSOLE_LOCK_MAX_S ({self.console_lock_max_s}) must be at least "
                f"CONSOLE_LOCK_S ({self.console_lock_s})"
            )

    @property
    def proxies(self) -> tuple[IPNetwork, ...]:
        """CONSOLE_PROXIES, parsed: the proxies whose X-Forwarded-For header the console believes."""
        found = []
        for item in filter(None, (part.strip() for part in self.console_proxies.split(","))):
            try:
                found.append(ip_network(item, strict=False))
            except ValueError:
                raise SettingsError(
                    f"CONSOLE_PROXIES must list addresses or networks (e.g. 127.0.0.1,10.0.0.0/8), not {item!r}"
                ) from None
        return tuple(found)


def _redis_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise SettingsError("REDIS_URL must start with redis://, rediss:// or unix://, e.g. redis://127.0.0.1:6379/0")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise SettingsError(
            "REDIS_URL has a port that is not a number; expected e.g. redis://127.0.0.1:6379/0"
        ) from None
    path = parts.path.strip("/")
    if parts.scheme != "unix" and path and not path.isdigit():
        # redis-py silently falls back to db 0 here, which would mix data with another app's
        raise SettingsError(f"REDIS_URL's database must be a number, as in redis://host:6379/0, not {path!r}")


def _number(variable: str, raw: str, low: int, high: int) -> int:
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{variable} must be a whole number from {low} to {high}, not {raw!r}")
    return int(raw)


def _file(variable: str, raw: str) -> Path:
    path = Path(raw)
    if not path.is_file():
        raise SettingsError(f"{variable} names {raw}, which is not a file")
    return path


def credential_variables(path: Path = PROJECT_ROOT / "credentials.yml") -> dict[str, list[str]]:
    """The variables credentials.yml reads, with the channels that read each (for the table)."""
    credentials = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found: dict[str, list[str]] = {}
    for channel, section in credentials.items():
        for value in (section or {}).values():
            for variable in _CREDENTIAL_VARIABLE.findall(str(value)):
                found.setdefault(variable, []).append(channel.rsplit(".", 1)[-1])
    return found


def markdown_table() -> str:
    """The README's configuration table: every variable, its default and what it is for."""
    rows = ["| Variable | Default | What it is for |", "| --- | --- | --- |"]
    for spec in fields(Settings):
        variable = spec.metadata.get("variable")
        if variable is None:
            continue
        default = spec.default
        if isinstance(default, Path):
            default = default.relative_to(PROJECT_ROOT)
        shown = f"`{default}`" if default else "(none)"
        rows.append(f"| `{variable}` | {shown} | {spec.metadata['help']} |")
    for variable, channels in credential_variables().items():
        if variable not in {spec.metadata.get("variable") for spec in fields(Settings)}:
            rows.append(f"| `{variable}` | (none) | Read by Rasa from credentials.yml for {', '.join(channels)}. |")
    return "\n".join(rows)
