"""Reading a data file that is a list of coded categories with the sources they rest on
(``data/outcomes.yml``, ``data/stats_categories.yml``): the parts both check the same way.

Codes are stored and counted, so each is snake_case and used once; every source says what was
read and when. Errors name the file, the line and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Iterable

from bot.datafiles.sources import Source
from bot.datafiles.yamlfile import LineDict, YamlFile

CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_SOURCE_FIELDS = {"url", "read", "quote"}


def items(source: YamlFile, key: str, fields: Iterable[str]) -> list[tuple[str, LineDict]]:
    """The file's ``key`` list, each item a mapping (with its field name for errors); only
    ``sources`` and ``key`` may stand at the top."""
    for top in source.data:
        if top not in ("sources", key):
            raise source.error(source.data, top, str(top), f"is not a field here (expected sources and {key})")
    found = source.data.get(key)
    described = ", ".join(fields)
    if not isinstance(found, list) or not found:
        raise source.error(source.data, key, key, f"must be a list of {{{described}}}")
    listed = []
    for i, item in enumerate(found):
        field = f"{key}[{i}]"
        if not isinstance(item, LineDict):
            raise source.error(source.data, key, field, f"must be a mapping with {described}")
        listed.append((field, item))
    return listed


def known_fields(source: YamlFile, item: LineDict, field: str, allowed: set[str]) -> None:
    for key in item:
        if key not in allowed:
            raise source.error(
                item, key, f"{field}.{key}", f"is not a field here (expected one of {', '.join(sorted(allowed))})"
            )


def code_of(source: YamlFile, item: LineDict, field: str, example: str) -> str:
    code = item.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        raise source.error(item, "code", f"{field}.code", f"{code!r} must be snake_case, such as {example}")
    return code


def label_of(source: YamlFile, item: LineDict, field: str) -> str:
    label = item.get("label")
    if not isinstance(label, str) or not label.strip():
        raise source.error(item, "label", f"{field}.label", "must be a non-empty text")
    return label.strip()


def once(
    source: YamlFile, item: LineDict, field: str, key: str, value: str, seen: dict[str, int], used: str = "used"
) -> None:
    """``value`` (of ``item[key]``) must not have appeared before; remember where it did."""
    if value in seen:
        raise source.error(item, key, f"{field}.{key}", f"{value!r} is already {used} on line {seen[value]}")
    seen[value] = item.line_of(key)


def sources(source: YamlFile) -> tuple[Source, ...]:
    """Where the categories come from: every source says what was read and when."""
    entries = source.data.get("sources")
    if not isinstance(entries, list) or not entries:
        raise source.error(
            source.data, "sources", "sources", "must list the pages the categories are based on (url, read, quote)"
        )
    found = []
    for i, entry in enumerate(entries):
        where = f"sources[{i}]"
        if not isinstance(entry, LineDict):
            raise source.error(source.data, "sources", where, "must be a mapping with url, read and quote")
        for key in entry:
            if key not in _SOURCE_FIELDS:
                raise source.error(entry, key, f"{where}.{key}", "is not a field here (expected url, read, quote)")
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")) or " " in url:
            raise source.error(entry, "url", f"{where}.url", "must be an http(s) address")
        read = entry.get("read")
        if not isinstance(read, dt.date) or isinstance(read, dt.datetime) or read > dt.date.today():
            raise source.error(
                entry, "read", f"{where}.read", "must be the date you read it, as YYYY-MM-DD (not in the future)"
            )
        quote = entry.get("quote")
        if quote is not None and (not isinstance(quote, str) or not quote.strip()):
            raise source.error(entry, "quote", f"{where}.quote", "must be a non-empty text (or left out)")
        found.append(Source(url, read, quote.strip() if quote else None))
    return tuple(found)
