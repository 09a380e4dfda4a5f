"""What a channel tells us about a child besides their words: language, country, phone, channel."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Collection, Mapping, Optional

from bot.routing.countries import from_phone, is_country_code

HINT_KEYS = ("language", "country", "phone", "channel")
CHANNELS = ("sms", "whatsapp", "telegram", "web")  # what metadata.channel may say


class BadHints(ValueError):
    """Metadata that a client sent in the wrong shape; the message says which field."""


@dataclass(frozen=True)
class ChannelHints:
    language: Optional[str] = None  # as declared, e.g. "pt-BR"; normalised by the language registry
    country: Optional[str] = None  # ISO 3166-1 alpha-2, from the phone number or an explicit hint
    channel: Optional[str] = None  # one of CHANNELS: decides which way to reach a helpline comes first

    @classmethod
    def from_metadata(cls, metadata: Optional[Mapping[str, Any]]) -> "ChannelHints":
        """Read ``language``, ``country`` and ``phone``; raise BadHints for a value of the wrong shape.

        A phone number's country wins over a stated one: it is what the network says.
        """
        if metadata is None:
            return cls()
        if not isinstance(metadata, Mapping):
            raise BadHints("metadata must be an object")
        for key in HINT_KEYS:
            value = metadata.get(key)
            if value is not None and not isinstance(value, str):
                raise BadHints(f"metadata.{key} must be a string")
        country = metadata.get("country")
        if country is not None:
            if not is_country_code(country):
                raise BadHints("metadata.country must be an ISO 3166-1 alpha-2 code such as 'KE'")
            country = country.upper()
        phone = metadata.get("phone")
        if phone is not None:
            phone_country = from_phone(phone)
            if phone_country is None:
                raise BadHints("metadata.phone must be an international number such as '+254...'")
            country = phone_country
        channel = metadata.get("channel")
        if channel is not None and channel not in CHANNELS:
            raise BadHints(f"metadata.channel must be one of {', '.join(CHANNELS)}")
        return cls(language=metadata.get("language") or None, country=country, channel=channel)

    @classmethod
    def lenient(cls, metadata: Optional[Mapping[str, Any]]) -> "ChannelHints":
        """Like from_metadata, but a malformed hint is ignored rather than refused."""
        try:
            return cls.from_metadata(metadata)
        except BadHints:
            return cls()


def deep_link_hints(payload: str, language_codes: Collection[str]) -> dict[str, str]:
    """Hints from a Telegram deep link such as t.me/bot?start=KE_sw: a country code and/or a language.

    Helplines put these links on their own pages, so a child arriving from Kenya's page in Swahili
    starts in Swahili with Kenya's numbers. Anything unrecognised is ignored.
    """
    hints: dict[str, str] = {}
    for part in payload.replace("-", "_").split("_")[:3]:
        if part.isupper() and is_country_code(part):
            hints.setdefault("country", part)
        elif part.lower() in language_codes:
            hints.setdefault("language", part.lower())
    return hints


class RecentHints:
    """The country and language of the children this process talked with lately, in its memory
    only (keyed sender ids, at most ``size``, the oldest forgotten first).

    A child's conversation lives in Redis; while Redis is down, the fail-safe reply would know only
    what the channel says each time, and a Telegram message says no country at all. So the bot
    notes each conversation's country and language as it loads and saves it, and a fail-safe reply
    uses them: the numbers of the child's country, in the language of their conversation.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._known: OrderedDict[str, tuple[Optional[str], Optional[str]]] = OrderedDict()

    def note(self, sender: str, country: Optional[str], language: Optional[str]) -> None:
        if not country and not language:
            return
        self._known[sender] = (country, language)
        self._known.move_to_end(sender)
        while len(self._known) > self._size:
            self._known.popitem(last=False)

    def forget(self, sender: str) -> None:
        """The child erased their data: nothing of theirs stays here either."""
        self._known.pop(sender, None)

    def completed(self, sender: str, metadata: Optional[Mapping[str, Any]]) -> dict[str, Any]:
        """``metadata`` with what is known of ``sender``: the conversation's language over a
        channel's guess (a phone's setting), its country where the channel gives none (a phone
        number's country, or a page's hint, stays)."""
        hints = dict(metadata or {})
        country, language = self._known.get(sender, (None, None))
        if language:
            hints["language"] = language
        if country and not (hints.get("country") or hints.get("phone")):
            hints["country"] = country
        return hints
