"""The numbers a child must be given, as the routing table (data/helplines.yml) has them: tests look
them up here instead of writing down a number they expect, and check that a reply gives the whole
number, not just its digits somewhere ("116" is not given by "116 111", nor "000" by "1000")."""

from __future__ import annotations

import re
from typing import Optional

from bot.routing.helplines import Country, Helpline, PhoneNumber, RoutingTable

TABLE = RoutingTable.load()


def country(code: str) -> Country:
    entry = TABLE.get(code)
    assert entry is not None, f"{code} is not in the routing table"
    return entry


def emergency(code: str) -> str:
    """The emergency number the bot gives for ``code`` (the table's first), as dialled there."""
    return country(code).emergency[0].number.dial


def helpline(code: str) -> Helpline:
    """The helpline the bot gives for ``code`` (the table's first)."""
    return country(code).helplines[0]


def number(code: str, method: str = "phone") -> PhoneNumber:
    """The main helpline's number for ``method`` (phone, sms, whatsapp)."""
    contact = helpline(code).contact(method)
    assert contact is not None and contact.number is not None, f"{code}'s helpline has no {method} number"
    return contact.number


def helpline_number(code: str, method: str = "phone") -> str:
    """The main helpline's number for ``method`` as dialled inside the country ("116", "0800 1111")."""
    return number(code, method).dial


def gives(text: str, number: Optional[str]) -> bool:
    """Whether ``text`` gives ``number`` whole: not as part of a longer number."""
    if not number:
        return False
    # Neither another digit (or "+") right before or after it, nor one beyond a space or a dash.
    return re.search(rf"(?<![\d+])(?<!\d[ -]){re.escape(number)}(?!\d)(?![ -]\d)", text) is not None
