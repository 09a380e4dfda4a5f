"""Where a child is and whom they can reach: countries (from a phone number, a hint or the child's
answer), the verified routing table of helplines, emergency numbers and reporting hotlines
(data/helplines.yml, every number with its source), opening hours, and which contact suits the
channel and the hour. ``python -m bot.routing`` checks and queries the table.
"""

from bot.routing.contact_choice import advise
from bot.routing.countries import CountryNames, from_phone, is_country_code
from bot.routing.helplines import Country, Helpline, RoutingTable
from bot.routing.hints import ChannelHints
from bot.routing.opening_hours import Hours, OpenState

__all__ = [
    "ChannelHints",
    "Country",
    "CountryNames",
    "Helpline",
    "Hours",
    "OpenState",
    "RoutingTable",
    "advise",
    "from_phone",
    "is_country_code",
]
