"""How long each kind of data is kept (``data/privacy.yml``), checked at start-up.

Periods are configuration, not code, so a helpline's data-protection officer can read and change
them; each store applies its period as a Redis expiry on every write. The longest period allowed
for each is in the file's schema (``bot/datafiles/schemas/privacy.yml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot import DATA_DIR
from bot.datafiles.schema import load_validated

PRIVACY_PATH = DATA_DIR / "privacy.yml"
DAY_S, HOUR_S = 24 * 3600, 3600
# field: its unit in seconds
PERIODS = {
    "conversation_days": DAY_S,
    "address_days": DAY_S,
    "dedupe_hours": HOUR_S,
    "web_inbox_hours": HOUR_S,
    "transcript_days": DAY_S,
    "statistics_days": DAY_S,
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
        periods = load_validated(path, "privacy").data["retention"]
        seconds = {key: periods[key] * unit for key, unit in PERIODS.items()}
        return cls(
            seconds["conversation_days"],
            seconds["address_days"],
            seconds["dedupe_hours"],
            seconds["web_inbox_hours"],
            seconds["transcript_days"],
            seconds["statistics_days"],
        )
