"""Counsellor accounts and sessions for the operator console, on Redis.

Each counsellor belongs to one helpline desk and only ever sees that desk's tickets. Passwords are
kept as Argon2id hashes at OWASP's recommended cost (19 MiB, 2 passes, 1 lane), computed on one
thread of their own so the event loop never waits on a hash and one core stays free for it (the
hash releases the GIL); a hash in an older format or at an older cost (the scrypt of earlier
versions) is replaced at the next successful login. Failed logins are counted and locked per
account and per client address (bot.handoff.logins). A session is a random token that expires,
with its own CSRF token for every change the console makes.

An account has a role: a ``counsellor`` (the default; accounts and sessions stored before roles
existed are counsellors) works their desk's queue, and acts only on the conversations they hold;
a ``supervisor`` also takes over a colleague's conversation and reads the desk's audit log; an
``admin`` does what a supervisor does, and also reads their own helpline's published statistics
(bot.handoff.casework says who may do what); a ``global_admin`` reads every helpline's statistics
and belongs to no desk (their helpline is empty, so no ticket is ever theirs).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from redis.exceptions import WatchError

from bot.handoff.logins import LoginPolicy, LoginThrottle
from bot.storage.stores import RedisClient

SESSION_TTL_S = 8 * 3600  # one shift
# OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1.
ARGON2 = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}  # the hashes of earlier versions, still read
_USERNAME = re.compile(r"^[a-z0-9._-]{3,40}$")
MIN_PASSWORD = 12
HASHES_WAITING = 32  # logins queued for the hashing thread beyond this are asked to retry in a second
HASH_NICENESS = 10  # the hashing thread's niceness above the process's own (at most 19)
COUNSELLOR, SUPERVISOR, ADMIN, GLOBAL_ADMIN = "counsellor", "supervisor", "admin", "global_admin"
ROLES = (COUNSELLOR, SUPERVISOR, ADMIN, GLOBAL_ADMIN)
ALL_HELPLINES = "*"  # a global admin's statistics scope
BUSY = "busy"  # a Login refused because too many hashes are waiting
_T = TypeVar("_T")


class AccountError(ValueError):
    """A bad username or password when creating an account; the message says which."""


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str
    username: str
    helpline: str  # the desk's country code; "" for a global admin
    role: str = COUNSELLOR

    @property
    def statistics_scope(self) -> Optional[str]:
        """Whose statistics this account may read: its helpline's country code, ``ALL_HELPLINES``,
        or None (a counsellor reads none)."""
        if self.role == GLOBAL_ADMIN:
            return ALL_HELPLINES
        return self.helpline if self.role == ADMIN and self.helpline else None


@dataclass(frozen=True)
class Account:
    username: str
    helpline: str  # "" for a global admin
    role: str


@dataclass(frozen=True)
class Login:
    """What a login attempt gets: a session, or a refusal saying how long to hold the answer and, when
    logins are locked, for how long and whose lock it is (``account``, ``address``, or ``busy``)."""

    session: Optional[Session]
    retry_after_s: int = 0
    locked: str = ""
    delay_s: float = 0.0


def hash_password(password: str) -> str:
    return ARGON2.hash(password)


def password_matches(password: str, stored: str) -> bool:
    return _check(stored, password)[0]


def _check(stored: str, password: str) -> tuple[bool, bool]:
    """(does ``password`` match ``stored``, should the hash be redone): old scrypt hashes always should."""
    if stored.startswith("scrypt$"):
        try:
            _, salt, digest = stored.split("$")
            expected = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), **_SCRYPT)
        except (ValueError, TypeError):
            return False, False
        matches = hmac.compare_digest(expected.hex(), digest)
        return matches, matches
    try:
        ARGON2.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, ARGON2.check_needs_rehash(stored)


def _yield_to_the_loop() -> None:
    """Lower the hashing thread's priority (Linux: niceness is per thread), so that when the cores are
    busy the event loop, and everyone else's requests, come before a login's hash."""
    try:
        nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + HASH_NICENESS)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError):  # not Linux, or not allowed: the hash just keeps its priority
        pass


class PasswordHashing:
    """Hashes on one thread of their own: one at a time, never on the event loop."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2", initializer=_yield_to_the_loop)
        self._waiting = 0
        self._unknown = ""  # a hash to check unknown usernames against: they take as long as known ones

    @property
    def busy(self) -> bool:
        return self._waiting >= HASHES_WAITING

    async def _run(self, work: Callable[[], _T]) -> _T:
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, work)
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str:
        return await self._run(lambda: hash_password(password))

    async def check(self, stored: Optional[str], password: str) -> tuple[bool, bool]:
        """As ``_check``; with no account (``stored`` None), a hash of the same cost that never matches."""
        if stored is None:
            if not self._unknown:
                self._unknown = await self.hash(secrets.token_urlsafe(24))
            unknown = self._unknown
            await self._run(lambda: _check(unknown, password))
            return False, False
        return await self._run(lambda: _check(stored, password))


class Counsellors:
    """Accounts under ``<prefix>account:<username>``, sessions under ``<prefix>session:<token>``, and
    the failed logins' counts under ``<prefix>login-*`` (bot.handoff.logins)."""

    def __init__(
        self, client: RedisClient, prefix: str = "helpline:console:", policy: Optional[LoginPolicy] = None
    ) -> None:
        self._redis, self._prefix = client, prefix
        self._throttle = LoginThrottle(client, prefix, policy or LoginPolicy())
        self._hashing = PasswordHashing()

    def _account_key(self, username: str) -> str:
        return f"{self._prefix}account:{username}"

    async def add(self, username: str, helpline: Optional[str], password: str, role: str = COUNSELLOR) -> None:
        """Create or reset an account; a global admin has no helpline (pass None or "")."""
        if not _USERNAME.match(username):
            raise AccountError("a username is 3-40 lower-case letters, digits, '.', '_' or '-'")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
        if role not in ROLES:
            raise AccountError(f"a role is one of {', '.join(ROLES)}")
        if role == GLOBAL_ADMIN and helpline:
            raise AccountError("a global admin reads every helpline's statistics and belongs to no helpline")
        if role != GLOBAL_ADMIN and not helpline:
            raise AccountError(f"an account with role {role} belongs to one helpline: give its country code")
        hashed = await self._hashing.hash(password)
        record = {"helpline": (helpline or "").upper(), "password": hashed, "role": role}
        await self._redis.set(self._account_key(username), json.dumps(record))

    async def account(self, username: str) -> Optional[Account]:
        """The account named ``username`` (None if there is none): whom a ticket may be transferred to."""
        raw = await self._redis.get(self._account_key(username)) if _USERNAME.match(username) else None
        if not raw:
            return None
        record = json.loads(raw)
        return Account(username, record["helpline"], record.get("role", COUNSELLOR))

    async def login(self, username: str, password: str, address: str = "unknown") -> Login:
        """Check a password from ``address`` (the client's IP address), unless logins are locked for
        the account or the address; redo the hash if it is in an old format or at an old cost."""
        if self._hashing.busy:  # under a flood of guesses: refuse before counting or hashing anything
            return Login(None, 1, BUSY, 1.0)
        name = username if _USERNAME.match(username) else "~invalid"  # such a name never logs in
        verdict = await self._throttle.attempt(name, address)
        if not verdict.allowed:
            return Login(None, verdict.retry_after_s, verdict.locked, verdict.delay_s)
        raw = await self._redis.get(self._account_key(name))
        record = json.loads(raw) if raw else None
        matches, stale = await self._hashing.check(record["password"] if record else None, password)
        if not matches or record is None:
            refused = await self._throttle.failed(verdict, name, address)
            return Login(None, refused.retry_after_s, refused.locked, refused.delay_s)
        await self._throttle.succeeded(name, address)
        if stale:
            await self._rehash(name, record["password"], password)
        role = record.get("role", COUNSELLOR)  # accounts made before roles are counsellors
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), name, record["helpline"], role)
        await self._redis.set(
            f"{self._prefix}session:{session.token}",
            json.dumps({"csrf": session.csrf, "username": name, "helpline": session.helpline, "role": role}),
            ex=SESSION_TTL_S,
        )
        return Login(session)

    async def _rehash(self, username: str, old: str, password: str) -> None:
        """Store ``password``'s hash at today's cost, unless the account changed in the meantime."""
        new = await self._hashing.hash(password)
        key = self._account_key(username)
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                raw = await pipe.get(key)
                record = json.loads(raw) if raw else None
                if record is None or record["password"] != old:
                    return  # reset or removed meanwhile: that change stands
                pipe.multi()
                pipe.set(key, json.dumps({**record, "password": new}))
                await pipe.execute()
            except WatchError:
                return

    async def session(self, token: Optional[str]) -> Optional[Session]:
        if not token:
            return None
        raw = await self._redis.get(f"{self._prefix}session:{token}")
        if not raw:
            return None
        data = json.loads(raw)
        return Session(token, data["csrf"], data["username"], data["helpline"], data.get("role", COUNSELLOR))

    async def logout(self, token: str) -> None:
        await self._redis.delete(f"{self._prefix}session:{token}")
