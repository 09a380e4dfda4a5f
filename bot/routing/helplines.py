"""The routing table (``data/helplines.yml``): each country's child helplines, reporting hotline and
emergency numbers, with the sources they were read from.

A wrong number is the worst bug this product can have, so the table is checked as it loads, and a
broken table stops start-up rather than run half-loaded: every phone number must parse and be
valid for its country (``phonenumbers``; short codes such as 116 111 against its short-number
data, and a short code that data does not list must say so with ``unlisted_short_code: true``),
must appear in one of the entry's quoted sources, every time zone must exist, every set of
hours must be well formed, and every entry needs a source and a verified date. Errors name the
file, the line and the field. ``python -m bot.routing.helplines validate`` runs the same checks.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import DATA_DIR
from bot.datafiles.sources import Source
from bot.datafiles.yamlfile import LineDict, YamlFile, load_mapping
from bot.routing.countries import is_country_code
from bot.routing.opening_hours import Hours, HoursError
from bot.routing.phone_check import PhoneCheck

TABLE_PATH = DATA_DIR / "helplines.yml"
METHODS = ("phone", "sms", "whatsapp", "telegram", "chat")  # how a child can reach a helpline
_NUMBERED = ("phone", "sms", "whatsapp")
_TELEGRAM = re.compile(r"^@[A-Za-z0-9_]{4,32}$")
_AGES = re.compile(r"^\d{1,2}-\d{1,2}$")
_UNLISTED = "unlisted_short_code"
# The fields each part of an entry may have: a misspelt field ("sorces") is an error, not ignored.
_FIELDS = {
    "country": {"time_zone", "verified", "emergency", "helplines", "hotline", "notes"},
    "emergency": {"number", "what", "sources", _UNLISTED},
    "helpline": {"name", "organisation", "serves", "languages", "ages", "free", "contacts", "time_zone", "sources"},
    "contact": {"number", "url", "handle", "hours", _UNLISTED},
    "hotline": {"name", "report_url", "inhope_member", "sources"},
    "source": {"url", "read", "quote"},
}


def digits(text: str) -> str:
    """The digits of a text as ASCII, whatever the script ("۱۱۰" is "110")."""
    return "".join(str(unicodedata.digit(ch)) for ch in text if unicodedata.digit(ch, None) is not None)


@dataclass(frozen=True)
class PhoneNumber:
    dial: str  # as written for dialling inside the country: "0800 1111", "116 111"
    e164: Optional[str]  # "+448001111"; None for a short code that only works inside the country
    listed: bool = True  # False: a short code phonenumbers does not know, kept on its sources


@dataclass(frozen=True)
class Contact:
    method: str  # one of METHODS
    number: Optional[PhoneNumber]  # phone, sms, whatsapp
    address: Optional[str]  # chat URL or Telegram handle
    hours: Optional[Hours]  # None when no source states them


@dataclass(frozen=True)
class Helpline:
    name: str
    organisation: Optional[str]
    serves: Optional[str]  # who it is for, when a country has several lines
    languages: tuple[str, ...]
    ages: Optional[str]  # "0-17"
    free: Optional[bool]
    contacts: tuple[Contact, ...]
    time_zone: ZoneInfo
    sources: tuple[Source, ...]

    def contact(self, method: str) -> Optional[Contact]:
        return next((c for c in self.contacts if c.method == method), None)


@dataclass(frozen=True)
class EmergencyNumber:
    number: PhoneNumber
    what: Optional[str]
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Hotline:
    """Where anyone can report child sexual abuse material (the INHOPE member where there is one)."""

    name: str
    report_url: str
    inhope_member: Optional[bool]
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Country:
    code: str
    time_zone: ZoneInfo
    verified: dt.date
    emergency: tuple[EmergencyNumber, ...]  # the first is the one to give a child in danger
    helplines: tuple[Helpline, ...]  # the first is the one to give by default
    hotline: Optional[Hotline]

    @property
    def sources(self) -> list[Source]:
        found = [s for e in self.emergency for s in e.sources] + [s for h in self.helplines for s in h.sources]
        return found + list(self.hotline.sources if self.hotline else ())


class RoutingTable:
    """Countries by ISO 3166-1 alpha-2 code."""

    def __init__(self, countries: dict[str, Country]) -> None:
        self._countries = countries

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.upper() in self._countries

    def __len__(self) -> int:
        return len(self._countries)

    def get(self, code: Optional[str]) -> Optional[Country]:
        return self._countries.get(code.upper()) if code else None

    @property
    def codes(self) -> list[str]:
        return sorted(self._countries)

    @classmethod
    def load(cls, path: Path = TABLE_PATH) -> "RoutingTable":
        """Load and check the whole table; raise ConfigError (file, line, field) at the first defect."""
        source = load_mapping(path)
        entries = source.data.get("countries")
        if not isinstance(entries, LineDict) or not entries:
            raise source.error(source.data, "countries", "countries", "must map country codes to entries")
        phones = PhoneCheck()
        countries = {str(code): _Reader(source, entries, str(code), phones).country() for code in entries}
        phones.save()
        return cls(countries)


class _Reader:
    """Reads and checks one country's entry; every error points at the line of the bad field."""

    def __init__(self, source: YamlFile, entries: LineDict, code: str, phones: PhoneCheck) -> None:
        self.source, self.code, self.field, self.phones = source, code, f"countries.{code}", phones
        if not is_country_code(code) or code != code.upper():
            raise source.error(
                entries, code, self.field, "is not an upper-case ISO 3166-1 alpha-2 code (quote NO as 'NO')"
            )
        self.entry = entries[code]
        if not isinstance(self.entry, LineDict):
            raise source.error(entries, code, self.field, "must be a mapping")

    def fail(self, mapping: LineDict, key: Any, field: str, problem: str) -> Exception:
        return self.source.error(mapping, key, field, problem)

    def known_fields(self, mapping: LineDict, kind: str, field: str) -> None:
        for key in mapping:
            if key not in _FIELDS[kind]:
                raise self.fail(
                    mapping,
                    key,
                    f"{field}.{key}",
                    f"is not a field here (expected one of {', '.join(sorted(_FIELDS[kind]))})",
                )

    def country(self) -> Country:
        self.known_fields(self.entry, "country", self.field)
        self.text(self.entry, "notes", self.field)
        zone = self.zone(self.entry, "time_zone", self.field, required=True)
        verified = self.entry.get("verified")
        if not isinstance(verified, dt.date):
            raise self.fail(
                self.entry,
                "verified",
                f"{self.field}.verified",
                "must be the date the entry was checked, as YYYY-MM-DD",
            )
        emergency = tuple(
            self.emergency(item, f"{self.field}.emergency[{i}]") for i, item in enumerate(self.items("emergency"))
        )
        helplines = tuple(
            self.helpline(item, f"{self.field}.helplines[{i}]", zone) for i, item in enumerate(self.items("helplines"))
        )
        if not emergency and not helplines:
            raise self.fail(
                self.entry, "emergency", f"{self.field}.emergency", "needs an emergency number or a helpline"
            )
        hotline = self.entry.get("hotline")
        if hotline is not None and not isinstance(hotline, LineDict):
            raise self.fail(self.entry, "hotline", f"{self.field}.hotline", "must be a mapping")
        return Country(
            code=self.code,
            time_zone=zone,
            verified=verified,
            emergency=emergency,
            helplines=helplines,
            hotline=self.hotline(hotline, f"{self.field}.hotline") if hotline is not None else None,
        )

    def items(self, key: str) -> list[LineDict]:
        items = self.entry.get(key, [])
        if not isinstance(items, list) or not all(isinstance(item, LineDict) for item in items):
            raise self.fail(self.entry, key, f"{self.field}.{key}", "must be a list of mappings")
        return items

    def zone(self, mapping: LineDict, key: str, field: str, required: bool = False) -> Optional[ZoneInfo]:
        name = mapping.get(key)
        if name is None and not required:
            return None
        if isinstance(name, str) and name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        raise self.fail(mapping, key, f"{field}.{key}", f"{name!r} is not an IANA time zone such as Africa/Nairobi")

    def text(self, mapping: LineDict, key: str, field: str, required: bool = False) -> Optional[str]:
        value = mapping.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(mapping, key, f"{field}.{key}", "must be a non-empty text")
        return value.strip()

    def flag(self, mapping: LineDict, key: str, field: str) -> Optional[bool]:
        value = mapping.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.fail(mapping, key, f"{field}.{key}", "must be true or false (leave it out if unknown)")
        return value

    def url(self, mapping: LineDict, key: str, field: str) -> str:
        value = mapping.get(key)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")) or " " in value:
            raise self.fail(mapping, key, f"{field}.{key}", "must be an http(s) address")
        return value

    def sources(self, mapping: LineDict, field: str) -> tuple[Source, ...]:
        entries = mapping.get("sources")
        if not isinstance(entries, list) or not entries:
            raise self.fail(
                mapping, "sources", f"{field}.sources", "every entry needs at least one source (url, read date, quote)"
            )
        found = []
        for i, entry in enumerate(entries):
            where = f"{field}.sources[{i}]"
            if not isinstance(entry, LineDict):
                raise self.fail(mapping, "sources", where, "must be a mapping with url, read and quote")
            self.known_fields(entry, "source", where)
            read = entry.get("read")
            if not isinstance(read, dt.date):
                raise self.fail(entry, "read", f"{where}.read", "must be the date you read it, as YYYY-MM-DD")
            if read > dt.date.today():
                raise self.fail(entry, "read", f"{where}.read", "is in the future")
            found.append(Source(self.url(entry, "url", where), read, self.text(entry, "quote", where)))
        return tuple(found)

    def number(
        self, mapping: LineDict, key: str, field: str, sources: tuple[Source, ...], full: bool = False
    ) -> PhoneNumber:
        """A number valid for this country, written in one of the quotes that back it."""
        value, where = mapping.get(key), f"{field}.{key}"
        if isinstance(value, int) and not isinstance(value, bool):
            raise self.fail(
                mapping, key, where, f"write the number in quotes ('{value}') so leading zeros and spaces are kept"
            )
        if not isinstance(value, str) or not re.fullmatch(r"\+?\(?[0-9][0-9 ()-]*[0-9]", value.strip()):
            raise self.fail(mapping, key, where, "must be a quoted phone number such as '0800 1111' or '116 111'")
        verdict = self.phones.verdict(value.strip(), self.code)
        if not verdict.parses:
            raise self.fail(
                mapping, key, where, f"{value!r} does not parse as a number of {self.code} ({verdict.error})"
            )
        unlisted = self.flag(mapping, _UNLISTED, field)
        short = not full and not value.startswith("+")
        if verdict.full:
            number = PhoneNumber(value.strip(), verdict.e164)
        elif short and verdict.short:
            number = PhoneNumber(value.strip(), None)
        elif short and unlisted and re.fullmatch(r"\d{2,6}", digits(value)):
            return self.quoted(mapping, key, where, PhoneNumber(value.strip(), None, listed=False), sources)
        else:
            kind = "full number" if full else "number or short code"
            hint = (
                "" if full else f"; if its sources show a short code phonenumbers does not list, add {_UNLISTED}: true"
            )
            raise self.fail(mapping, key, where, f"{value!r} is not a valid {kind} in {self.code} (phonenumbers){hint}")
        if unlisted:
            raise self.fail(
                mapping, _UNLISTED, f"{field}.{_UNLISTED}", f"phonenumbers knows {value!r}: remove this flag"
            )
        return self.quoted(mapping, key, where, number, sources, verdict.national)

    def quoted(
        self,
        mapping: LineDict,
        key: str,
        where: str,
        number: PhoneNumber,
        sources: tuple[Source, ...],
        national: str = "",
    ) -> PhoneNumber:
        """The number itself, once one of the entry's quotes is seen to contain it."""
        dialled = digits(number.dial)
        quoted = [digits(s.quote or "") for s in sources]
        if not any(dialled in q or (national and national in q) for q in quoted):
            raise self.fail(mapping, key, where, f"{number.dial!r} is not written in any quote of this entry's sources")
        return number

    def emergency(self, item: LineDict, field: str) -> EmergencyNumber:
        self.known_fields(item, "emergency", field)
        sources = self.sources(item, field)
        return EmergencyNumber(self.number(item, "number", field, sources), self.text(item, "what", field), sources)

    def helpline(self, item: LineDict, field: str, country_zone: ZoneInfo) -> Helpline:
        self.known_fields(item, "helpline", field)
        sources = self.sources(item, field)
        zone = self.zone(item, "time_zone", field) or country_zone
        contacts_map = item.get("contacts")
        if not isinstance(contacts_map, LineDict) or not contacts_map:
            raise self.fail(
                item, "contacts", f"{field}.contacts", f"must map at least one of {', '.join(METHODS)} to its details"
            )
        contacts = []
        for method, details in contacts_map.items():
            where = f"{field}.contacts.{method}"
            if method not in METHODS:
                raise self.fail(contacts_map, method, where, f"is not a contact method ({', '.join(METHODS)})")
            if not isinstance(details, LineDict):
                raise self.fail(contacts_map, method, where, "must be a mapping such as {number: '116', hours: 24/7}")
            contacts.append(self.contact(str(method), details, where, sources))
        languages = item.get("languages", [])
        if not isinstance(languages, list) or not all(isinstance(code, str) and len(code) == 2 for code in languages):
            raise self.fail(
                item, "languages", f"{field}.languages", "must be a list of ISO 639-1 codes such as [en, sw]"
            )
        ages = item.get("ages")
        if ages is not None and not (isinstance(ages, str) and _AGES.match(ages)):
            raise self.fail(item, "ages", f"{field}.ages", "must be a quoted range such as '0-17'")
        return Helpline(
            name=self.text(item, "name", field, required=True),
            organisation=self.text(item, "organisation", field),
            serves=self.text(item, "serves", field),
            languages=tuple(languages),
            ages=ages,
            free=self.flag(item, "free", field),
            contacts=tuple(contacts),
            time_zone=zone,
            sources=sources,
        )

    def contact(self, method: str, details: LineDict, field: str, sources: tuple[Source, ...]) -> Contact:
        self.known_fields(details, "contact", field)
        number = address = None
        if method in _NUMBERED:
            number = self.number(details, "number", field, sources, full=method == "whatsapp")
        elif method == "telegram":
            address = self.text(details, "handle", field, required=True)
            if not _TELEGRAM.match(address):
                raise self.fail(details, "handle", f"{field}.handle", "must be a Telegram handle such as @helpline_bot")
        else:
            address = self.url(details, "url", field)
        hours = None
        if "hours" in details:
            try:
                hours = Hours.parse(details["hours"])
            except HoursError as exc:
                raise self.fail(details, "hours", f"{field}.hours", str(exc)) from None
        return Contact(method, number, address, hours)

    def hotline(self, item: LineDict, field: str) -> Hotline:
        self.known_fields(item, "hotline", field)
        return Hotline(
            name=self.text(item, "name", field, required=True),
            report_url=self.url(item, "report_url", field),
            inhope_member=self.flag(item, "inhope_member", field),
            sources=self.sources(item, field),
        )
