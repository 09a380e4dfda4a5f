"""``python -m bot.stats export|simulate``: publishable figures from the statistics in Redis.

    python -m bot.stats export --from 2026-11-23 --to 2026-11-29 --format csv [--country KE] [--output FILE]
    HELPLINE_REDIS_PREFIX=sim: python -m bot.stats simulate --week 2026-11-23 --contacts 500 --seed 1

Both read REDIS_URL and HELPLINE_REDIS_PREFIX, as the bot does. Bad input gets a one-line reason
and exit code 2; an unreachable Redis exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import Optional, Sequence

from redis.exceptions import RedisError

from bot.conversation.needs import TRIGGERS
from bot.handoff.outcomes import Outcomes
from bot.routing.countries import is_country_code
from bot.stats import export
from bot.stats.categories import Categories
from bot.stats.counters import RedisStats, StatsCounter, week_end, week_of
from bot.stats.record import recorder
from bot.stats.simulate import simulate
from bot.wiring.services import Services
from bot.wiring.settings import DEFAULT_PREFIX, Settings, SettingsError

USAGE_ERROR, UNREACHABLE = 2, 1
NO_REDIS = (
    "REDIS_URL is not set. Statistics live in Redis: the bot counts into REDIS_URL under HELPLINE_REDIS_PREFIX "
    "(a bot without REDIS_URL keeps them in memory, and they are gone when it stops). Run this with the bot's "
    "settings, e.g. REDIS_URL=redis://127.0.0.1:6379/0"
)


def _date(text: str) -> dt.date:
    try:
        return export.parse_day(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _country(text: str) -> str:
    if not is_country_code(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 3166-1 alpha-2 country code such as KE")
    return text.upper()


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.stats", description="Anonymous statistics a helpline can publish."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    out = commands.add_parser("export", help="the weeks from --from to --to, small cells suppressed")
    out.add_argument(
        "--from", dest="start", type=_date, required=True, help="first day (YYYY-MM-DD); its whole ISO week is read"
    )
    out.add_argument(
        "--to", dest="end", type=_date, required=True, help="last day (YYYY-MM-DD); its whole ISO week is read"
    )
    out.add_argument("--format", choices=("csv", "json"), required=True)
    out.add_argument("--country", type=_country, help="only this country (ISO code)")
    out.add_argument("--output", type=Path, help="write here instead of to standard output")
    sim = commands.add_parser("simulate", help="count a made-up week of conversations (under a prefix of its own)")
    sim.add_argument("--week", type=_date, required=True, help="a day of the week to fill (YYYY-MM-DD)")
    sim.add_argument("--contacts", type=_positive, default=500, help="conversations to simulate")
    sim.add_argument("--seed", type=int, default=1)
    return parser


def main(argv: Optional[Sequence[str]] = None, settings: Optional[Settings] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "export" and args.start > args.end:
        parser.error(f"--from {args.start} is after --to {args.end}")
    try:
        services = Services(settings or Settings.from_environ())
    except SettingsError as error:
        return _fail(str(error), USAGE_ERROR)
    if services.settings.in_memory:
        return _fail(NO_REDIS, USAGE_ERROR)
    if args.command == "simulate" and services.prefix == DEFAULT_PREFIX:
        return _fail(
            "simulated conversations must not mix with real statistics: set HELPLINE_REDIS_PREFIX to a prefix of "
            "their own, e.g. HELPLINE_REDIS_PREFIX=sim:",
            USAGE_ERROR,
        )
    try:
        return asyncio.run(_run(args, services))
    except ValueError as error:  # a broken data file (ConfigError)
        return _fail(str(error), USAGE_ERROR)
    except (RedisError, OSError) as error:
        return _fail(
            f"cannot reach the statistics in Redis ({type(error).__name__}); is REDIS_URL right and Redis running?",
            UNREACHABLE,
        )


async def _run(args: argparse.Namespace, services: Services) -> int:
    try:
        counter = services.counter
        if not isinstance(counter, RedisStats):  # main() refused to run without REDIS_URL
            raise RuntimeError("the statistics need Redis")
        return await (_export(counter, args) if args.command == "export" else _simulate(counter, args))
    finally:
        await services.close()


async def _export(counter: StatsCounter, args: argparse.Namespace) -> int:
    weeks = export.weeks_between(args.start, args.end)
    data = await export.read(counter, weeks)
    found = export.rows(data, Categories.load(), Outcomes.load(), args.country)
    text = export.to_csv(found) if args.format == "csv" else export.to_json(found, args.start, args.end, weeks)
    now = dt.datetime.now(dt.timezone.utc)
    running = [week for week in weeks if week_end(week) > now]
    if running:
        print(
            f"note: {', '.join(running)} has not ended: its figures will still change, and publishing a week twice "
            "lets readers subtract one version from the other",
            file=sys.stderr,
        )
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        return _fail(f"cannot write {args.output} ({error.strerror})", USAGE_ERROR)
    return 0


async def _simulate(counter: RedisStats, args: argparse.Namespace) -> int:
    week = week_of(dt.datetime(args.week.year, args.week.month, args.week.day, tzinfo=dt.timezone.utc))
    await counter.forget(week)  # the same seed always gives the same week
    monday = args.week - dt.timedelta(days=args.week.weekday())
    await simulate(recorder(counter), monday, args.contacts, args.seed, TRIGGERS)
    print(f"{args.contacts} simulated conversations counted in {counter.key(week)}")
    return 0


def _fail(message: str, code: int) -> int:
    print(f"python -m bot.stats: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
