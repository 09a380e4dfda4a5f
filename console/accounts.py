"""``python -m console.accounts add --helpline KE --username amina [--role admin]``: create an account.

Roles: ``counsellor`` (the default) works the desk's queue; ``supervisor`` also takes over a
colleague's conversation and reads the desk's audit log; ``admin`` does what a supervisor does and
also reads the helpline's statistics on the console's /admin page; ``global-admin`` (no
``--helpline``) reads every helpline's statistics and works no queue. The password is read from the
terminal (or standard input when piped), never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from bot.handoff.counsellors import ADMIN, COUNSELLOR, GLOBAL_ADMIN, SUPERVISOR, AccountError
from bot.routing.countries import is_country_code
from bot.wiring.services import Services
from bot.wiring.settings import Settings

ROLE_NAMES = {  # as typed: as stored
    "counsellor": COUNSELLOR,
    "supervisor": SUPERVISOR,
    "admin": ADMIN,
    "global-admin": GLOBAL_ADMIN,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.accounts")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create or reset an account")
    add.add_argument("--helpline", help="the desk's country code, as in data/handoff.yml (not for a global admin)")
    add.add_argument("--username", required=True)
    add.add_argument(
        "--role",
        choices=tuple(ROLE_NAMES),
        default="counsellor",
        help="counsellor (the desk's queue), supervisor (also takes over conversations, reads the audit log), "
        "admin (also the helpline's statistics) or global-admin (every helpline's statistics)",
    )
    args = parser.parse_args(argv)
    role = ROLE_NAMES[args.role]
    if role == GLOBAL_ADMIN and args.helpline:
        parser.error("a global admin belongs to no helpline: leave out --helpline")
    if role != GLOBAL_ADMIN and not args.helpline:
        parser.error(f"an account with --role {args.role} belongs to one helpline: give --helpline (its country code)")
    settings = Settings.from_environ()
    if settings.in_memory:
        print("REDIS_URL must be set (the bot's Redis)", file=sys.stderr)
        return 1
    if args.helpline and not is_country_code(args.helpline):
        print(f"{args.helpline!r} is not a country code", file=sys.stderr)
        return 1
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")

    async def create() -> None:
        services = Services(settings)
        try:
            await services.counsellors.add(args.username, args.helpline, password, role)
        finally:
            await services.close()

    try:
        asyncio.run(create())
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if role == GLOBAL_ADMIN:
        print(f"account {args.username} (global admin: every helpline's statistics) is ready")
    else:
        print(f"account {args.username} ({args.role}) for helpline {args.helpline.upper()} is ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
