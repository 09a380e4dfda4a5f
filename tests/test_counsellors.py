"""Counsellor passwords, sessions and roles (counsellor, admin, global admin), and the accounts CLI."""

import asyncio
import io
import json
import secrets

import pytest
import redis.asyncio as aioredis

from bot.handoff.counsellors import (
    ADMIN,
    ALL_HELPLINES,
    COUNSELLOR,
    GLOBAL_ADMIN,
    SUPERVISOR,
    AccountError,
    Counsellors,
    hash_password,
    password_matches,
)
from tests.conftest import redis_keys_removed
from tests.redis_keys import drop_and_close


def test_passwords_are_salted_slow_hashes():
    first, second = hash_password("a long password 1"), hash_password("a long password 1")
    assert first != second and first.startswith("$argon2id$") and "a long password" not in first
    assert password_matches("a long password 1", first) and not password_matches("a long password 2", first)
    assert not password_matches("anything", "not-a-hash")


async def test_accounts_sessions_and_logout_on_redis():
    prefix = f"test-console:{secrets.token_hex(4)}:"
    client = aioredis.from_url("redis://127.0.0.1:6379/0")
    try:
        counsellors = Counsellors(client, prefix)
        with pytest.raises(AccountError):
            await counsellors.add("Bad Name", "KE", "a long enough password")
        with pytest.raises(AccountError):
            await counsellors.add("amina", "KE", "short")
        await counsellors.add("amina", "ke", "a long enough password")
        assert (await counsellors.login("amina", "wrong password here")).session is None
        session = (await counsellors.login("amina", "a long enough password")).session
        assert session.helpline == "KE" and session.csrf != session.token
        assert (await counsellors.session(session.token)).username == "amina"
        ttl = await client.ttl(f"{prefix}session:{session.token}")
        assert 0 < ttl <= 8 * 3600  # sessions expire
        await counsellors.logout(session.token)
        assert await counsellors.session(session.token) is None and await counsellors.session(None) is None
    finally:
        await drop_and_close(client, prefix)


@pytest.fixture
def redis_prefix_keys():
    """A unique key prefix for console accounts; every key under it is deleted after the test."""
    prefix = f"test-console:{secrets.token_hex(4)}:"
    yield prefix
    redis_keys_removed(prefix)


async def test_roles_decide_whose_statistics_an_account_reads(redis_prefix_keys):
    prefix = redis_prefix_keys
    client = aioredis.from_url("redis://127.0.0.1:6379/0")
    try:
        counsellors = Counsellors(client, prefix)
        password = "a long enough password"
        await counsellors.add("amina", "KE", password)  # no role given: a counsellor, as before roles
        await counsellors.add("wanjiru", "ke", password, ADMIN)
        await counsellors.add("chi-stats", None, password, GLOBAL_ADMIN)
        for helpline, role in (("KE", "boss"), ("KE", GLOBAL_ADMIN), (None, ADMIN), ("", COUNSELLOR)):
            with pytest.raises(AccountError):
                await counsellors.add("someone", helpline, password, role)
        amina, wanjiru, chi = [
            (await counsellors.login(name, password)).session for name in ("amina", "wanjiru", "chi-stats")
        ]
        assert (amina.role, amina.statistics_scope) == (COUNSELLOR, None)
        assert (wanjiru.role, wanjiru.helpline, wanjiru.statistics_scope) == (
            ADMIN,
            "KE",
            "KE",
        )  # and works KE's queue
        assert (chi.role, chi.helpline, chi.statistics_scope) == (GLOBAL_ADMIN, "", ALL_HELPLINES)  # no desk
        assert (await counsellors.session(wanjiru.token)).role == ADMIN  # the role lives with the session

        # Records stored before roles existed stay counsellors (accounts and live sessions alike).
        await client.set(
            f"{prefix}account:old-timer", json.dumps({"helpline": "KE", "password": hash_password(password)})
        )
        old = (await counsellors.login("old-timer", password)).session
        assert (old.role, old.statistics_scope) == (COUNSELLOR, None)
        await client.set(
            f"{prefix}session:old-token", json.dumps({"csrf": "c", "username": "old-timer", "helpline": "KE"})
        )
        assert (await counsellors.session("old-token")).role == COUNSELLOR
    finally:
        await client.close()


def test_the_accounts_cli_creates_admins_and_global_admins(redis_prefix_keys, monkeypatch, capsys):
    from console import accounts

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("HELPLINE_REDIS_PREFIX", redis_prefix_keys)  # accounts go under <prefix>console:

    def add(*args: str, password: str = "a long enough password") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))  # piped: read from standard input
        return accounts.main(["add", *args])

    assert add("--helpline", "KE", "--username", "wanjiru", "--role", "admin") == 0
    assert "wanjiru (admin) for helpline KE is ready" in capsys.readouterr().out
    assert add("--username", "chi-stats", "--role", "global-admin") == 0
    assert "global admin" in capsys.readouterr().out
    assert add("--helpline", "KE", "--username", "amina") == 0  # the default role
    assert add("--helpline", "KE", "--username", "zawadi", "--role", "supervisor") == 0
    assert "zawadi (supervisor) for helpline KE is ready" in capsys.readouterr().out
    assert add("--helpline", "KE", "--username", "shorty", password="short") == 1
    assert "at least 12 characters" in capsys.readouterr().err
    for wrong in (
        ["--helpline", "KE", "--username", "x-y-z", "--role", "global-admin"],  # a global admin has no desk
        ["--username", "x-y-z", "--role", "admin"],  # an admin has one
        ["--helpline", "KE", "--username", "x-y-z", "--role", "superuser"],
    ):
        with pytest.raises(SystemExit) as exit_:
            add(*wrong)
        assert exit_.value.code == 2

    async def roles() -> dict[str, tuple[str, str]]:
        client = aioredis.from_url("redis://127.0.0.1:6379/0")
        try:
            counsellors = Counsellors(client, redis_prefix_keys + "console:")
            found = {}
            for name in ("wanjiru", "chi-stats", "amina", "zawadi"):
                session = (await counsellors.login(name, "a long enough password")).session
                found[name] = (session.role, session.helpline)
            assert await client.get(f"{redis_prefix_keys}console:account:x-y-z") is None
            return found
        finally:
            await client.close()

    # Sync on purpose: accounts.main() runs its own asyncio.run, which cannot run inside the test's event loop.
    assert asyncio.run(roles()) == {
        "wanjiru": (ADMIN, "KE"),
        "chi-stats": (GLOBAL_ADMIN, ""),
        "amina": (COUNSELLOR, "KE"),
        "zawadi": (SUPERVISOR, "KE"),
    }
