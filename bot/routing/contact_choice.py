"""Which way to reach a helpline to offer a child: the best one for their channel, open now if possible.

A child on a basic phone (SMS) needs a number to call or text; one on WhatsApp is best sent to the
helpline's WhatsApp; one on Telegram to a Telegram account or a web chat link. If that way is
closed right now, the child is told when it opens and what is open instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from bot.routing.helplines import METHODS, Contact, Country, Helpline
from bot.routing.opening_hours import OpenState

# Contact methods in the order they suit each channel; anything else gets the web order.
CHANNEL_PREFERENCE = {
    "sms": ("phone", "sms", "whatsapp", "chat", "telegram"),
    "whatsapp": ("whatsapp", "phone", "sms", "chat", "telegram"),
    "telegram": ("telegram", "chat", "phone", "sms", "whatsapp"),
}
WEB_PREFERENCE = ("phone", "chat", "sms", "whatsapp", "telegram")
assert all(sorted(order) == sorted(METHODS) for order in (*CHANNEL_PREFERENCE.values(), WEB_PREFERENCE))


@dataclass(frozen=True)
class Offer:
    helpline: Helpline
    contact: Contact
    state: Optional[OpenState]  # None: the helpline publishes no hours for this way

    @property
    def closed(self) -> bool:
        return self.state is not None and not self.state.open

    @property
    def open(self) -> bool:
        return self.state is not None and self.state.open


@dataclass(frozen=True)
class Advice:
    offer: Offer  # the main helpline's best way for this channel
    open_instead: Optional[Offer] = None  # when that way is closed: another that is open now


def advise(country: Country, channel: Optional[str], now: dt.datetime) -> Optional[Advice]:
    """What to offer a child in ``country`` writing on ``channel`` at ``now``; None without a helpline."""
    order = CHANNEL_PREFERENCE.get(channel or "", WEB_PREFERENCE)
    offers = [
        Offer(line, contact, contact.hours.state(line.time_zone, now) if contact.hours else None)
        for line in country.helplines
        for contact in sorted(line.contacts, key=lambda c: order.index(c.method))
    ]
    if not offers:
        return None
    main = [offer for offer in offers if offer.helpline is country.helplines[0]]
    best = next((offer for offer in main if not offer.closed), None)
    if best:
        return Advice(best)
    # All of the main line is closed: the way that opens soonest, and whatever is open meanwhile.
    soonest = min(main, key=_opens_at)
    return Advice(soonest, next((offer for offer in offers if offer.open), None))


def _opens_at(offer: Offer) -> dt.datetime:
    """When a closed offer opens; the far future when its hours do not say."""
    if offer.state is None:
        raise ValueError("an offer without hours is never closed")
    return offer.state.opens_at or dt.datetime.max.replace(tzinfo=dt.timezone.utc)
