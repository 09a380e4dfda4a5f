"""Counsellor accounts and sessions for the operator console, on Redis.

Each counsellor belongs to one helpline desk and only ever sees that desk's tickets. Passwords are
kept as scrypt hashes (a deliberately slow hash, from the standard library); a session is a
random token that expires, with its own CSRF token for every change the console makes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Optional

import redis.asyncio as aioredis

SESSION_TTL_S = 8 * 3600  # one shift
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_USERNAME = re.compile(r"^[a-z0-9._-]{3,40}$")
MIN_PASSWORD = 12


class AccountError(ValueError):
    """A bad username or password when creating an account; the message says which."""


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str
    username: str
    helpline: str


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

    def __init__(self, client: aioredis.Redis, prefix: str = "helpline:console:") -> None:
        self._redis, self._prefix = client, prefix

    async def add(self, username: str, helpline: str, password: str) -> None:
        if not _USERNAME.match(username):
            raise AccountError("a username is 3-40 lower-case letters, digits, '.', '_' or '-'")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
        record = {"helpline": helpline.upper(), "password": hash_password(password)}
        await self._redis.set(f"{self._prefix}account:{username}", json.dumps(record))

    async def login(self, username: str, password: str) -> Optional[Session]:
        raw = await self._redis.get(f"{self._prefix}account:{username}")
        if not raw:
            hash_password(password)  # same time whether or not the account exists
            return None
        record = json.loads(raw)
        if not password_matches(password, record["password"]):
            return None
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), username, record["helpline"])
        await self._redis.set(
            f"{self._prefix}session:{session.token}",
            json.dumps({"csrf": session.csrf, "username": username, "helpline": session.helpline}),
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
        return Session(token, data["csrf"], data["username"], data["helpline"])

    async def logout(self, token: str) -> None:
        await self._redis.delete(f"{self._prefix}session:{token}")
