"""The routing table: each country's emergency numbers and child helplines (``data/helplines.yml``).

Every number in the table carries the sources it was read from and the date; an entry without
one is refused, because a wrong number is the worst bug this product can have. A broken table
stops start-up with an error naming the file, the line and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bot import DATA_DIR
from bot.countries import is_country_code
from bot.yamlfile import LineDict, YamlFile, load_mapping

_DIALABLE = re.compile(r"^\+?[0-9][0-9 -]{0,18}[0-9]$")


@dataclass(frozen=True)
class Source:
    url: str
    read: dt.date  # when we read it
    quote: Optional[str] = None  # the words on the page that show the fact


@dataclass(frozen=True)
class EmergencyNumber:
    number: str
    what: Optional[str]
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Helpline:
    name: str
    phone: str
    free: Optional[bool]
    always_open: bool
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Country:
    code: str
    emergency: tuple[EmergencyNumber, ...]  # the first is the one to give a child in danger
    helplines: tuple[Helpline, ...]  # the first is the one to give a child by default


class RoutingTable:
    """Countries by ISO 3166-1 alpha-2 code."""

    def __init__(self, countries: dict[str, Country]) -> None:
        self._countries = countries

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.upper() in self._countries

    def get(self, code: Optional[str]) -> Optional[Country]:
        return self._countries.get(code.upper()) if code else None

    @property
    def codes(self) -> list[str]:
        return sorted(self._countries)

    @classmethod
    def load(cls, path: Path = DATA_DIR / "helplines.yml") -> "RoutingTable":
        source = load_mapping(path)
        entries = source.data.get("countries")
        if not isinstance(entries, LineDict):
            raise source.error(source.data, "countries", "countries", "must map country codes to entries")
        countries = {}
        for code, entry in entries.items():
            field = f"countries.{code}"
            if not is_country_code(code) or code != str(code).upper():
                raise source.error(entries, code, field, "is not an upper-case ISO 3166-1 alpha-2 code")
            if not isinstance(entry, LineDict):
                raise source.error(entries, code, field, "must be a mapping")
            countries[code] = Country(
                code=code,
                emergency=tuple(
                    _number(source, item, f"{field}.emergency[{i}]")
                    for i, item in enumerate(_list(source, entry, "emergency", field))
                ),
                helplines=tuple(
                    _helpline(source, item, f"{field}.helplines[{i}]")
                    for i, item in enumerate(_list(source, entry, "helplines", field))
                ),
            )
        return cls(countries)


def _list(source: YamlFile, entry: LineDict, key: str, field: str) -> list[LineDict]:
    items = entry.get(key, [])
    if not isinstance(items, list) or not all(isinstance(item, LineDict) for item in items):
        raise source.error(entry, key, f"{field}.{key}", "must be a list of mappings")
    return items


def _number(source: YamlFile, item: LineDict, field: str) -> EmergencyNumber:
    number = item.get("number")
    if not isinstance(number, str) or not _DIALABLE.match(number):
        raise source.error(item, "number", f"{field}.number", "must be a quoted dialable number such as \"112\"")
    what = item.get("what")
    if what is not None and not isinstance(what, str):
        raise source.error(item, "what", f"{field}.what", "must be a text")
    return EmergencyNumber(number, what, _sources(source, item, field))


def _helpline(source: YamlFile, item: LineDict, field: str) -> Helpline:
    name, phone = item.get("name"), item.get("phone")
    if not isinstance(name, str) or not name.strip():
        raise source.error(item, "name", f"{field}.name", "must be a non-empty text")
    if not isinstance(phone, str) or not _DIALABLE.match(phone):
        raise source.error(item, "phone", f"{field}.phone", "must be a quoted dialable number")
    free = item.get("free")
    if free is not None and not isinstance(free, bool):
        raise source.error(item, "free", f"{field}.free", "must be true or false")
    hours = item.get("hours")
    if hours is not None and hours != "24/7":
        raise source.error(item, "hours", f"{field}.hours", "only \"24/7\" is understood so far; leave it out otherwise")
    return Helpline(name.strip(), phone, free, hours == "24/7", _sources(source, item, field))


def _sources(source: YamlFile, item: LineDict, field: str) -> tuple[Source, ...]:
    entries = item.get("sources")
    if not isinstance(entries, list) or not entries:
        raise source.error(item, "sources", f"{field}.sources", "every number needs at least one source (url and read date)")
    found = []
    for i, entry in enumerate(entries):
        where = f"{field}.sources[{i}]"
        if not isinstance(entry, LineDict):
            raise source.error(item, "sources", where, "must be a mapping with url and read")
        url, read = entry.get("url"), entry.get("read")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise source.error(entry, "url", f"{where}.url", "must be the http(s) address you read")
        if not isinstance(read, dt.date):
            raise source.error(entry, "read", f"{where}.read", "must be the date you read it, as YYYY-MM-DD")
        quote = entry.get("quote")
        if quote is not None and not isinstance(quote, str):
            raise source.error(entry, "quote", f"{where}.quote", "must be a text")
        found.append(Source(url, read, quote))
    return tuple(found)
