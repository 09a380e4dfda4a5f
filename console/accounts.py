"""``python -m console.accounts add --helpline KE --username amina``: create a counsellor account.

The password is read from the terminal (or standard input when piped), never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from bot.counsellors import AccountError, Counsellors
from bot.countries import is_country_code
from bot.stores import redis_client, redis_prefix


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.accounts")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create or reset a counsellor's account")
    add.add_argument("--helpline", required=True, help="the desk's country code, as in data/handoff.yml")
    add.add_argument("--username", required=True)
    args = parser.parse_args(argv)
    url = (os.environ.get("REDIS_URL") or "").strip()
    if not url:
        print("REDIS_URL must be set (the bot's Redis)", file=sys.stderr)
        return 1
    if not is_country_code(args.helpline):
        print(f"{args.helpline!r} is not a country code", file=sys.stderr)
        return 1
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")

    async def create() -> None:
        client = redis_client(url)
        try:
            await Counsellors(client, redis_prefix() + "console:").add(args.username, args.helpline, password)
        finally:
            await client.close()

    try:
        asyncio.run(create())
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"account {args.username} for helpline {args.helpline.upper()} is ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
