"""``python -m bot.routing``: check the routing table and look countries up, for helpline staff.

python -m bot.routing validate [--file data/helplines.yml]
python -m bot.routing lookup KE [--json]
python -m bot.routing open-now KE [--at 2026-11-29T23:30+03:00]
python -m bot.routing stats
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Optional

from bot.datafiles.sources import Source
from bot.datafiles.yamlfile import ConfigError
from bot.routing.helplines import TABLE_PATH, Contact, Country, Helpline, RoutingTable
from bot.routing.opening_hours import DAYS, Hours

# IANA zones outside the continent areas, by the country they serve.
_OCEAN_ZONES = {"Atlantic/Reykjavik": "Europe", "Atlantic/Cape_Verde": "Africa", "Indian/Maldives": "Asia"}
_AREAS = {
    "America": "Americas",
    "Australia": "Oceania",
    "Pacific": "Oceania",
    "Indian": "Africa",
    "Atlantic": "Americas",
}


def continent(country: Country) -> str:
    """The continent of a country, from the area of its IANA time zone."""
    zone = country.time_zone.key
    area = zone.split("/")[0]
    return _OCEAN_ZONES.get(zone) or _AREAS.get(area, area)


def describe_hours(hours: Optional[Hours]) -> str:
    if hours is None:
        return "hours not published"
    if hours.always:
        return "24/7"
    parts = []
    for index, intervals in enumerate(hours.week):
        for interval in intervals:
            end = (dt.datetime.combine(dt.date.min, interval.start) + dt.timedelta(minutes=interval.minutes)).time()
            parts.append(f"{DAYS[index]} {interval.start:%H:%M}-{end:%H:%M}")
    return ", ".join(parts)


def contact_json(contact: Contact) -> dict[str, Any]:
    found: dict[str, Any] = {"method": contact.method}
    if contact.number:
        found.update(number=contact.number.dial, e164=contact.number.e164)
    if contact.address:
        found["address"] = contact.address
    found["hours"] = describe_hours(contact.hours)
    return found


def sources_json(sources: tuple[Source, ...]) -> list[dict[str, Any]]:
    return [{"url": s.url, "read": s.read.isoformat(), "quote": s.quote} for s in sources]


def helpline_json(line: Helpline) -> dict[str, Any]:
    return {
        "name": line.name,
        "organisation": line.organisation,
        "serves": line.serves,
        "languages": list(line.languages),
        "ages": line.ages,
        "free": line.free,
        "time_zone": line.time_zone.key,
        "contacts": [contact_json(c) for c in line.contacts],
        "sources": sources_json(line.sources),
    }


def country_json(country: Country) -> dict[str, Any]:
    return {
        "country": country.code,
        "time_zone": country.time_zone.key,
        "verified": country.verified.isoformat(),
        "emergency": [
            {"number": e.number.dial, "e164": e.number.e164, "what": e.what, "sources": sources_json(e.sources)}
            for e in country.emergency
        ],
        "helplines": [helpline_json(line) for line in country.helplines],
        "hotline": None
        if country.hotline is None
        else {
            "name": country.hotline.name,
            "report_url": country.hotline.report_url,
            "inhope_member": country.hotline.inhope_member,
            "sources": sources_json(country.hotline.sources),
        },
    }


def country_text(country: Country) -> str:
    lines = [f"{country.code} (time zone {country.time_zone.key}, verified {country.verified})"]
    for e in country.emergency:
        lines.append(f"  emergency {e.number.dial}" + (f" — {e.what}" if e.what else ""))
    for line in country.helplines:
        facts = [
            f for f in (line.serves, f"ages {line.ages}" if line.ages else None, "free" if line.free else None) if f
        ]
        lines.append(f"  helpline {line.name}" + (f" ({'; '.join(facts)})" if facts else ""))
        for c in line.contacts:
            where = c.number.dial + (f" [{c.number.e164}]" if c.number.e164 else "") if c.number else c.address
            lines.append(f"    {c.method:<9} {where}  ({describe_hours(c.hours)})")
    if country.hotline:
        lines.append(f"  report abuse images: {country.hotline.name} — {country.hotline.report_url}")
    if not country.helplines:
        lines.append("  no child helpline verified yet")
    return "\n".join(lines)


def open_now_text(country: Country, now: dt.datetime) -> str:
    lines = [f"{country.code} at {now.astimezone(country.time_zone):%a %Y-%m-%d %H:%M} ({country.time_zone.key})"]
    for line in country.helplines:
        for c in line.contacts:
            label = f"  {line.name} {c.method}"
            if c.hours is None:
                lines.append(f"{label}: hours not published")
                continue
            state = c.hours.state(line.time_zone, now)
            if state.always:
                lines.append(f"{label}: open (24/7)")
            elif state.open:
                lines.append(f"{label}: open until {state.closes_at:%a %H:%M}")
            else:
                lines.append(f"{label}: closed" + (f", opens {state.opens_at:%a %H:%M}" if state.opens_at else ""))
    if country.emergency:
        lines.append(f"  emergency {country.emergency[0].number.dial}: always")
    return "\n".join(lines)


def stats_text(table: RoutingTable) -> str:
    countries = [country for code in table.codes if (country := table.get(code)) is not None]
    by_continent = Counter(continent(c) for c in countries)
    with_helpline = Counter(continent(c) for c in countries if c.helplines)
    sources = [s for c in countries for s in c.sources]
    hosts = Counter(s.url.split("/")[2].removeprefix("www.") for s in sources)
    kinds = Counter(_source_kind(s.url) for s in sources)
    methods = Counter(contact.method for c in countries for line in c.helplines for contact in line.contacts)
    unlisted = sum(
        1
        for c in countries
        for n in [e.number for e in c.emergency] + [x.number for h in c.helplines for x in h.contacts if x.number]
        if not n.listed
    )
    lines = [
        f"countries: {len(countries)} ({sum(with_helpline.values())} with a child helpline, "
        f"{sum(1 for c in countries if c.hotline)} with a reporting hotline)"
    ]
    for name in sorted(by_continent):
        lines.append(f"  {name}: {by_continent[name]} ({with_helpline[name]} with a helpline)")
    lines.append("contact methods: " + ", ".join(f"{m} {n}" for m, n in methods.most_common()))
    lines.append(f"sources: {len(sources)} citations of {len(set(s.url for s in sources))} pages on {len(hosts)} sites")
    lines.append("  by type: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    lines.append(
        f"oldest verification: {min(c.verified for c in countries)}; oldest page read: {min(s.read for s in sources)}"
    )
    lines.append(f"short codes phonenumbers does not list (kept on their sources): {unlisted}")
    return "\n".join(lines)


def _source_kind(url: str) -> str:
    host = url.split("/")[2].lower()
    if any(part in host for part in (".gov", ".gob", ".gouv", "government", ".admin.ch", ".go.", ".govt.")):
        return "government"
    if any(
        part in host for part in ("childhelplineinternational", "unicef", "inhope", "europa.eu", "who.int", "un.org")
    ):
        return "international body"
    return "other (helpline, NGO, news)"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.routing", description="The helpline routing table.")
    parser.add_argument("--file", type=Path, default=TABLE_PATH, help="the table to read (default: data/helplines.yml)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("validate", help="check the whole table; exit 1 with file:line: field: problem")
    lookup = commands.add_parser("lookup", help="one country's numbers")
    lookup.add_argument("country")
    lookup.add_argument("--json", action="store_true")
    open_now = commands.add_parser("open-now", help="what is open now in a country")
    open_now.add_argument("country")
    open_now.add_argument("--at", type=dt.datetime.fromisoformat, help="another moment, ISO 8601 with offset")
    commands.add_parser("stats", help="coverage by continent, sources, oldest verification")
    args = parser.parse_args(argv)

    try:
        table = RoutingTable.load(args.file)
    except ConfigError as error:
        print(f"invalid: {error}", file=sys.stderr)
        return 1
    if args.command == "validate":
        print(f"{args.file}: {len(table)} countries, valid")
        return 0
    if args.command == "stats":
        print(stats_text(table))
        return 0
    country = table.get(args.country)
    if country is None:
        print(
            f"{args.country.upper()} is not in the table (yet): give the child their local emergency number.",
            file=sys.stderr,
        )
        return 2
    if args.command == "lookup":
        print(json.dumps(country_json(country), ensure_ascii=False, indent=2) if args.json else country_text(country))
        return 0
    now = args.at if args.at else dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        parser.error("--at needs a UTC offset, e.g. 2026-11-29T23:30+03:00")
    print(open_now_text(country, now))
    return 0
