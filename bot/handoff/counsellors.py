"""Counsellor accounts and sessions for the operator console, on Redis.

Each counsellor belongs to one helpline desk and only ever sees that desk's tickets. Passwords are
kept as scrypt hashes (a deliberately slow hash, from the standard library); a session is a
random token that expires, with its own CSRF token for every change the console makes.

An account has a role: a ``counsellor`` (the default; accounts and sessions stored before roles
existed are counsellors) works their desk's queue; an ``admin`` does too, and also reads their own
helpline's published statistics; a ``global_admin`` reads every helpline's statistics and belongs
to no desk (their helpline is empty, so no ticket is ever theirs).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Optional

from bot.storage.stores import RedisClient

SESSION_TTL_S = 8 * 3600  # one shift
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_USERNAME = re.compile(r"^[a-z0-9._-]{3,40}$")
MIN_PASSWORD = 12
COUNSELLOR, ADMIN, GLOBAL_ADMIN = "counsellor", "admin", "global_admin"
ROLES = (COUNSELLOR, ADMIN, GLOBAL_ADMIN)
ALL_HELPLINES = "*"  # a global admin's statistics scope


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


def hash_password(password: str, salt: Optional[bytes] = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
        expected = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), **_SCRYPT)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected.hex(), digest)


class Counsellors:
    """Accounts under ``<prefix>account:<username>``, sessions under ``<prefix>session:<token>``."""

    def __init__(self, client: RedisClient, prefix: str = "helpline:console:") -> None:
        self._redis, self._prefix = client, prefix

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
        record = {"helpline": (helpline or "").upper(), "password": hash_password(password), "role": role}
        await self._redis.set(f"{self._prefix}account:{username}", json.dumps(record))

    async def login(self, username: str, password: str) -> Optional[Session]:
        raw = await self._redis.get(f"{self._prefix}account:{username}")
        if not raw:
            hash_password(password)  # same time whether or not the account exists
            return None
        record = json.loads(raw)
        if not password_matches(password, record["password"]):
            return None
        role = record.get("role", COUNSELLOR)  # accounts made before roles are counsellors
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), username, record["helpline"], role)
        await self._redis.set(
            f"{self._prefix}session:{session.token}",
            json.dumps({"csrf": session.csrf, "username": username, "helpline": session.helpline, "role": role}),
            ex=SESSION_TTL_S,
        )
        return session

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
