"""The way to reach a helpline that suits the child's channel, open now when possible."""

import datetime as dt
import textwrap

import pytest

from bot.routing.contact_choice import advise
from bot.routing.helplines import RoutingTable

TABLE = """\
countries:
  'NO':
    time_zone: Europe/Oslo
    verified: 2026-11-29
    emergency:
      - number: '112'
        sources: [{url: "https://example.org/no", read: 2026-11-29, quote: "112 Politi"}]
    helplines:
      - name: Main line
        contacts:
          chat: {url: "https://example.org/chat", hours: {daily: '16:00-23:00'}}
          sms: {number: '116 111', hours: {daily: '16:00-23:00'}}
          phone: {number: '116 111', hours: {mon-fri: '09:00-17:00'}}
        sources: [{url: "https://example.org/a", read: 2026-11-29, quote: "ring 116 111"}]
      - name: Night line
        contacts:
          phone: {number: '800 33 321', hours: {daily: '20:00-08:00'}}
        sources: [{url: "https://example.org/b", read: 2026-11-29, quote: "ring 800 33 321"}]
"""


@pytest.fixture(scope="module")
def norway(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "helplines.yml"
    path.write_text(textwrap.dedent(TABLE), encoding="utf-8")
    return RoutingTable.load(path).get("NO")


WEDNESDAY_NOON = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
WEDNESDAY_EVENING = WEDNESDAY_NOON.replace(hour=18)
SATURDAY_3AM = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
SATURDAY_NOON = SATURDAY_3AM.replace(hour=12)


@pytest.mark.parametrize(
    "channel, moment, method",
    [
        ("sms", WEDNESDAY_NOON, "phone"),  # a basic phone: call first
        ("sms", WEDNESDAY_EVENING, "sms"),  # phone closed, texting open
        (None, WEDNESDAY_NOON, "phone"),
        (None, WEDNESDAY_EVENING, "chat"),
        ("telegram", WEDNESDAY_EVENING, "chat"),  # a link on Telegram
        ("whatsapp", WEDNESDAY_NOON, "phone"),  # no WhatsApp line: the next best that is open
    ],
)
def test_the_best_open_way_for_the_channel(norway, channel, moment, method):
    advice = advise(norway, channel, moment)
    assert advice.offer.helpline.name == "Main line"
    assert advice.offer.contact.method == method and advice.offer.open
    assert advice.open_instead is None


def test_when_the_main_line_is_closed_another_open_line_is_offered(norway):
    advice = advise(norway, "sms", SATURDAY_3AM)
    assert advice.offer.helpline.name == "Main line" and advice.offer.closed
    assert advice.offer.state.opens_at.hour == 16
    assert advice.open_instead.helpline.name == "Night line" and advice.open_instead.open


def test_when_everything_is_closed_nothing_is_offered_instead(norway):
    advice = advise(norway, "sms", SATURDAY_NOON)
    assert advice.offer.closed and advice.open_instead is None
