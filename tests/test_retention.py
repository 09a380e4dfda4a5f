"""data/privacy.yml: the shipped periods, and broken files named by line and field."""

from __future__ import annotations

import pytest

from bot.datafiles.yamlfile import ConfigError
from bot.storage.retention import DAY_S, HOUR_S, Retention

GOOD = {
    "conversation_days": 30,
    "address_days": 7,
    "dedupe_hours": 24,
    "transcript_days": 90,
    "statistics_days": 730,
    "web_inbox_hours": 24,
}


def write(tmp_path, periods: dict) -> object:
    path = tmp_path / "privacy.yml"
    path.write_text("retention:\n" + "".join(f"  {k}: {v}\n" for k, v in periods.items()), encoding="utf-8")
    return path


def test_the_shipped_periods():
    kept = Retention.load()
    assert (kept.conversation_s, kept.address_s, kept.dedupe_s) == (30 * DAY_S, 7 * DAY_S, 24 * HOUR_S)
    assert (kept.transcript_s, kept.statistics_s, kept.web_inbox_s) == (90 * DAY_S, 730 * DAY_S, 24 * HOUR_S)


@pytest.mark.parametrize(
    "change, line, field",
    [
        ({"conversation_days": 0}, 2, "retention.conversation_days"),
        ({"address_days": "a week"}, 3, "retention.address_days"),
        ({"dedupe_hours": 10_000}, 4, "retention.dedupe_hours"),
        ({"transcript_days": True}, 5, "retention.transcript_days"),
        ({"web_inbox_hours": 0}, 7, "retention.web_inbox_hours"),
        ({"forever_days": 3}, 8, "retention.forever_days"),
    ],
)
def test_a_broken_period_is_named(tmp_path, change, line, field):
    with pytest.raises(ConfigError) as caught:
        Retention.load(write(tmp_path, {**GOOD, **change}))
    assert (caught.value.line, caught.value.field) == (line, field)


def test_a_missing_period_is_named(tmp_path):
    periods = dict(GOOD)
    del periods["statistics_days"]
    with pytest.raises(ConfigError, match="statistics_days"):
        Retention.load(write(tmp_path, periods))
