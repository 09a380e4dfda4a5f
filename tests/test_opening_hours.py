"""Open now or not: around midnight, across time zones, for 24/7 lines, and when it opens next."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.routing.opening_hours import Hours, HoursError

NAIROBI, OSLO, LIMA = ZoneInfo("Africa/Nairobi"), ZoneInfo("Europe/Oslo"), ZoneInfo("America/Lima")
UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_24_7_is_always_open():
    state = Hours.parse("24/7").state(NAIROBI, at("2026-11-29T03:00+00:00"))
    assert state.open and state.always and state.opens_at is None


@pytest.mark.parametrize(
    "moment, is_open",
    [
        ("2026-11-27T19:59+03:00", False),  # Friday, a minute before it opens
        ("2026-11-27T20:00+03:00", True),
        ("2026-11-27T23:59+03:00", True),
        ("2026-11-28T00:00+03:00", True),  # Saturday after midnight: Friday's range is still running
        ("2026-11-28T01:59+03:00", True),
        ("2026-11-28T02:00+03:00", False),  # closes at 02:00
        ("2026-11-29T01:00+03:00", True),  # Saturday night's range, on Sunday
        ("2026-11-30T01:00+03:00", False),  # Sunday night is not open
    ],
)
def test_a_range_past_midnight_belongs_to_the_day_it_starts(moment, is_open):
    hours = Hours.parse({"fri-sat": "20:00-02:00"})
    assert hours.state(NAIROBI, at(moment)).open is is_open


def test_the_same_moment_is_open_in_one_zone_and_closed_in_another():
    hours = Hours.parse({"daily": "09:00-17:00"})
    moment = at("2026-11-29T15:30+00:00")  # 16:30 in Oslo, 10:30 in Lima, 18:30 in Nairobi
    assert hours.state(OSLO, moment).open
    assert hours.state(LIMA, moment).open
    assert not hours.state(NAIROBI, moment).open


def test_when_it_opens_next_is_in_the_helplines_own_time():
    hours = Hours.parse({"mon-fri": ["09:00-12:00", "14:00-18:00"]})
    lunch = hours.state(OSLO, at("2026-11-27T12:30+01:00"))  # Friday lunch
    assert not lunch.open and lunch.opens_at == dt.datetime(2026, 11, 27, 14, 0, tzinfo=OSLO)
    weekend = hours.state(OSLO, at("2026-11-28T11:00+00:00"))  # Saturday
    assert weekend.opens_at == dt.datetime(2026, 11, 30, 9, 0, tzinfo=OSLO)
    assert weekend.opens_at.weekday() == 0
    morning = hours.state(OSLO, at("2026-11-30T09:15+01:00"))
    assert morning.open and morning.closes_at == dt.datetime(2026, 11, 30, 12, 0, tzinfo=OSLO)


def test_a_day_range_can_wrap_the_week():
    hours = Hours.parse({"sat-mon": "10:00-11:00"})
    open_days = [day for day, intervals in enumerate(hours.week) if intervals]
    assert open_days == [0, 5, 6]


def test_a_whole_day_can_be_written_to_24_00():
    hours = Hours.parse({"sun": "00:00-24:00"})
    assert hours.state(OSLO, at("2026-11-29T23:59+01:00")).open  # Sunday
    assert not hours.state(OSLO, at("2026-11-30T00:00+01:00")).open


def test_daylight_saving_keeps_wall_clock_hours():
    hours = Hours.parse({"daily": "08:00-09:00"})
    assert hours.state(OSLO, at("2026-07-01T06:30+00:00")).open  # 08:30 summer time (UTC+2)
    assert hours.state(OSLO, at("2026-12-01T07:30+00:00")).open  # 08:30 winter time (UTC+1)


@pytest.mark.parametrize(
    "value, problem",
    [
        ("always", "24/7"),
        ({}, "24/7"),
        ({"monday": "09:00-17:00"}, "mon..sun"),
        ({"mon": "9-17"}, "quoted range"),
        ({"mon": "09:00-17:60"}, "quoted range"),
        ({"mon": 540}, "quoted range"),  # what YAML 1.1 makes of an unquoted 09:00
        ({"mon": "09:00-09:00"}, "same time"),
        ({"mon": "24:00-02:00"}, "not a time of day"),
    ],
)
def test_malformed_hours_say_what_is_wrong(value, problem):
    with pytest.raises(HoursError, match=problem):
        Hours.parse(value)
