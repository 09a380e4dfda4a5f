"""The routing table (``data/helplines.yml``): each country's child helplines, reporting hotline and
emergency numbers, with the sources they were read from.

A wrong number is the worst bug this product can have, so the table is checked as it loads, and a
broken table stops start-up rather than run half-loaded. Its schema (``bot/datafiles/schemas/
helplines.yml``) checks every field's shape: every time zone must exist, every entry needs a source
and a verified date, a misspelt field is an error. Then, here: every phone number must parse and
be valid for its country (``phonenumbers``; short codes such as 116 111 against its short-number
data, and a short code that data does not list must say so with ``unlisted_short_code: true``),
must appear in one of the entry's quoted sources, and every set of hours must be well formed.
Errors name the file, the line and the field. ``python -m bot.routing validate`` runs the same checks.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo

from bot import DATA_DIR
from bot.datafiles.schema import load_validated
from bot.datafiles.sources import Source, sources_of
from bot.datafiles.yamlfile import LineDict, YamlFile
from bot.routing.opening_hours import Hours, HoursError
from bot.routing.phone_check import PhoneCheck

TABLE_PATH = DATA_DIR / "helplines.yml"
METHODS = ("phone", "sms", "whatsapp", "telegram", "chat")  # how a child can reach a helpline
_NUMBERED = ("phone", "sms", "whatsapp")
_UNLISTED = "unlisted_short_code"


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
        source = load_validated(path, "helplines")
        entries = source.data["countries"]
        phones = PhoneCheck()
        countries = {str(code): _Reader(source, str(code), entries[code], phones).country() for code in entries}
        phones.save()
        return cls(countries)


class _Reader:
    """Builds one country's entry (its shape checked by the schema) and checks its phone numbers
    and opening hours; every error points at the line of the bad field."""

    def __init__(self, source: YamlFile, code: str, entry: LineDict, phones: PhoneCheck) -> None:
        self.source, self.code, self.field, self.phones = source, code, f"countries.{code}", phones
        self.entry = entry

    def fail(self, mapping: LineDict, key: Any, field: str, problem: str) -> Exception:
        return self.source.error(mapping, key, field, problem)

    def country(self) -> Country:
        zone = ZoneInfo(self.entry["time_zone"])
        emergency = tuple(
            self.emergency(item, f"{self.field}.emergency[{i}]")
            for i, item in enumerate(self.entry.get("emergency", []))
        )
        helplines = tuple(
            self.helpline(item, f"{self.field}.helplines[{i}]", zone)
            for i, item in enumerate(self.entry.get("helplines", []))
        )
        hotline = self.entry.get("hotline")
        return Country(
            code=self.code,
            time_zone=zone,
            verified=self.entry["verified"],
            emergency=emergency,
            helplines=helplines,
            hotline=self.hotline(hotline) if hotline is not None else None,
        )

    def number(
        self, mapping: LineDict, key: str, field: str, sources: tuple[Source, ...], full: bool = False
    ) -> PhoneNumber:
        """A number valid for this country, written in one of the quotes that back it."""
        written, where = mapping[key], f"{field}.{key}"
        value = written.strip()
        verdict = self.phones.verdict(value, self.code)
        if not verdict.parses:
            raise self.fail(
                mapping, key, where, f"{value!r} does not parse as a number of {self.code} ({verdict.error})"
            )
        unlisted = mapping.get(_UNLISTED)
        short = not full and not written.startswith("+")
        if verdict.full:
            number = PhoneNumber(value, verdict.e164)
        elif short and verdict.short:
            number = PhoneNumber(value, None)
        elif short and unlisted and re.fullmatch(r"\d{2,6}", digits(value)):
            return self.quoted(mapping, key, where, PhoneNumber(value, None, listed=False), sources)
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
        sources = sources_of(item["sources"])
        return EmergencyNumber(self.number(item, "number", field, sources), _text(item.get("what")), sources)

    def helpline(self, item: LineDict, field: str, country_zone: ZoneInfo) -> Helpline:
        sources = sources_of(item["sources"])
        zone = ZoneInfo(item["time_zone"]) if item.get("time_zone") is not None else country_zone
        contacts = tuple(
            self.contact(str(method), details, f"{field}.contacts.{method}", sources)
            for method, details in item["contacts"].items()
        )
        return Helpline(
            name=item["name"].strip(),
            organisation=_text(item.get("organisation")),
            serves=_text(item.get("serves")),
            languages=tuple(item.get("languages", [])),
            ages=item.get("ages"),
            free=item.get("free"),
            contacts=contacts,
            time_zone=zone,
            sources=sources,
        )

    def contact(self, method: str, details: LineDict, field: str, sources: tuple[Source, ...]) -> Contact:
        number = address = None
        if method in _NUMBERED:
            number = self.number(details, "number", field, sources, full=method == "whatsapp")
        elif method == "telegram":
            address = details["handle"].strip()
        else:
            address = details["url"]
        hours = None
        if "hours" in details:
            try:
                hours = Hours.parse(details["hours"])
            except HoursError as exc:
                raise self.fail(details, "hours", f"{field}.hours", str(exc)) from None
        return Contact(method, number, address, hours)

    def hotline(self, item: LineDict) -> Hotline:
        return Hotline(
            name=item["name"].strip(),
            report_url=item["report_url"],
            inhope_member=item.get("inhope_member"),
            sources=sources_of(item["sources"]),
        )


def _text(value: Optional[str]) -> Optional[str]:
    """An optional text of the table (the schema has checked it is one, with something in it)."""
    return value.strip() if value is not None else None
