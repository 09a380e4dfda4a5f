"""How long each kind of data is kept (``data/privacy.yml``), checked at start-up.

Periods are configuration, not code, so a helpline's data-protection officer can read and change
them; each store applies its period as a Redis expiry on every write.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot import DATA_DIR
from bot.datafiles.yamlfile import load_mapping

PRIVACY_PATH = DATA_DIR / "privacy.yml"
DAY_S, HOUR_S = 24 * 3600, 3600
# field: (unit in seconds, the longest period allowed in that unit)
PERIODS = {
    "conversation_days": (DAY_S, 365),
    "address_days": (DAY_S, 90),
    "dedupe_hours": (HOUR_S, 24 * 7),
    "web_inbox_hours": (HOUR_S, 24 * 7),
    "transcript_days": (DAY_S, 3650),
    "statistics_days": (DAY_S, 3650),
}


@dataclass(frozen=True)
class Retention:
    """Each period in seconds."""

    conversation_s: int
    address_s: int
    dedupe_s: int
    web_inbox_s: int
    transcript_s: int
    statistics_s: int

    @classmethod
    def load(cls, path: Path = PRIVACY_PATH) -> "Retention":
        """Read and check the file; ConfigError (file, line, field) for anything missing or odd."""
        source = load_mapping(path)
        periods = source.data.get("retention")
        if not isinstance(periods, dict):
            raise source.error(source.data, "retention", "retention", "must map each kind of data to a period")
        for key in periods:
            if key not in PERIODS:
                raise source.error(periods, key, f"retention.{key}", f"is not a period here ({', '.join(PERIODS)})")
        seconds = {}
        for key, (unit, most) in PERIODS.items():
            value = periods.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
                where = key if key in periods else "retention"
                raise source.error(
                    periods if key in periods else source.data,
                    where,
                    f"retention.{key}",
                    f"must be a whole number from 1 to {most}",
                )
            seconds[key] = value * unit
        return cls(
            seconds["conversation_days"],
            seconds["address_days"],
            seconds["dedupe_hours"],
            seconds["web_inbox_hours"],
            seconds["transcript_days"],
            seconds["statistics_days"],
        )
