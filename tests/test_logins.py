"""Logins that resist guessing, on the real Redis without the console: failures counted per account and per
address before any hash is checked, growing locks that expire, Argon2id at OWASP's cost, old hashes redone."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import threading
import time
from ipaddress import ip_network
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher

from bot.handoff import counsellors as counsellors_module
from bot.handoff.counsellors import Counsellors, password_matches
from bot.handoff.logins import LoginPolicy, address_key, client_address, refusal
from bot.wiring.services import Services
from bot.wiring.settings import Settings, SettingsError

REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "a long enough password"
FAST = LoginPolicy(account_tries=3, address_tries=10, lock_s=1, lock_max_s=2)  # locks of 1-2 s


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    prefix = f"test-logins:{secrets.token_hex(4)}:"
    client = aioredis.from_url(REDIS_URL)
    try:
        yield client, prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.close()


async def accounts(redis_prefix, policy: LoginPolicy = FAST, *names: str) -> Counsellors:
    client, prefix = redis_prefix
    made = Counsellors(client, prefix, policy)
    for name in names or ("amina",):
        await made.add(name, "KE", PASSWORD)
    return made


def checks_counted(monkeypatch) -> list[str]:
    """Every password check the hashing thread runs (the stored hash it was checked against)."""
    checked: list[str] = []
    real = counsellors_module._check

    def counting(stored: str, password: str) -> tuple[bool, bool]:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(counsellors_module, "_check", counting)
    return checked


def lock_s(answer) -> float:
    """How long the lock an answer tells of lasts, counted from the attempt: held for delay_s, then Retry-After."""
    return answer.delay_s + answer.retry_after_s


async def test_an_account_is_locked_after_its_tries_and_the_lock_grows(redis_prefix):
    people = await accounts(redis_prefix, LoginPolicy(account_tries=3, address_tries=10, lock_s=2, lock_max_s=4))
    answers = [await people.login("amina", f"guess number {i}", "203.0.113.5") for i in range(3)]
    assert [(a.session, a.locked) for a in answers] == [(None, ""), (None, ""), (None, "account")]
    # Each wrong password is answered later than the last; the one that locks, never past a second before
    # the lock lifts, so its Retry-After is true when the answer arrives.
    assert [(a.delay_s, a.retry_after_s) for a in answers] == [(0.667, 0), (1.333, 0), (1.0, 1)]
    locked = await people.login("amina", PASSWORD, "198.51.100.7")  # even the right password, from anywhere
    assert (locked.session, locked.locked, locked.retry_after_s) == (None, "account", 1)
    await asyncio.sleep(2.1)  # the lock expires ...
    again = await people.login("amina", "guess number 4", "203.0.113.5")
    assert (again.locked, lock_s(again)) == ("account", 4)  # ... one more guess is checked, and it doubles
    await asyncio.sleep(4.1)
    assert lock_s(await people.login("amina", "guess number 5", "203.0.113.5")) == 4  # at most lock_max_s
    await asyncio.sleep(4.1)
    assert (await people.login("amina", PASSWORD, "203.0.113.5")).session is not None


async def test_a_success_starts_the_account_afresh(redis_prefix):
    people = await accounts(redis_prefix)
    for _ in range(2):
        assert (await people.login("amina", "not it at all", "203.0.113.5")).retry_after_s == 0
    assert (await people.login("amina", PASSWORD, "203.0.113.5")).session is not None
    answers = [await people.login("amina", "not it at all", "203.0.113.5") for _ in range(3)]
    assert [a.retry_after_s for a in answers] == [0, 0, 1]  # three tries again, not one


async def test_parallel_guessers_get_only_the_allowance_checked(redis_prefix, monkeypatch):
    people = await accounts(redis_prefix)
    checked = checks_counted(monkeypatch)
    answers = await asyncio.gather(*(people.login("amina", f"guess {i}", f"203.0.113.{i % 8}") for i in range(40)))
    assert len(checked) == 3 and all(a.session is None for a in answers)
    assert sum(1 for a in answers if a.retry_after_s) >= 37


async def test_one_address_guessing_many_accounts_is_locked(redis_prefix):
    names = [f"user-{i}" for i in range(6)]
    people = await accounts(
        redis_prefix, LoginPolicy(account_tries=3, address_tries=10, lock_s=2, lock_max_s=4), *names
    )
    answers = [await people.login(names[i % 6], "wrong wrong wrong", "2001:db8:1:2::99") for i in range(10)]
    assert [a.locked for a in answers] == [""] * 9 + ["address"]  # no account reached its three
    from_same_block = await people.login("user-0", PASSWORD, "2001:db8:1:2:ffff::1")  # the same /64
    assert (from_same_block.session, from_same_block.locked) == (None, "address")
    assert lock_s(from_same_block) == pytest.approx(2, abs=0.1)
    assert (await people.login("user-0", PASSWORD, "2001:db8:1:3::1")).session is not None  # another /64


async def test_a_success_takes_only_its_own_attempt_off_the_address(redis_prefix):
    people = await accounts(redis_prefix, LoginPolicy(account_tries=5, address_tries=4, lock_s=2, lock_max_s=4))
    await people.add("mallory", "KE", PASSWORD)
    for name in ("amina", "x-1", "x-2"):
        await people.login(name, "wrong wrong wrong", "203.0.113.9")
    assert (await people.login("mallory", PASSWORD, "203.0.113.9")).session is not None  # a guesser's own account
    assert (await people.login("x-3", "wrong wrong wrong", "203.0.113.9")).locked == "address"  # 4th failure


async def test_passwords_are_argon2id_at_owasps_cost(redis_prefix):
    client, prefix = redis_prefix
    await accounts(redis_prefix)
    stored = json.loads(await client.get(f"{prefix}account:amina"))["password"]
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert password_matches(PASSWORD, stored) and not password_matches("another password", stored)


def scrypt_hash(password: str) -> str:
    """A hash as earlier versions stored it."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def argon2_at_another_cost(password: str) -> str:
    return PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(password)  # RFC 9106's


@pytest.mark.parametrize("old_hash", [scrypt_hash, argon2_at_another_cost])
async def test_an_old_hash_is_redone_at_the_next_successful_login(redis_prefix, old_hash):
    client, prefix = redis_prefix
    old = old_hash(PASSWORD)
    key = f"{prefix}account:old-timer"
    await client.set(key, json.dumps({"helpline": "KE", "password": old, "role": "supervisor"}))
    people = Counsellors(client, prefix, FAST)
    assert (await people.login("old-timer", "wrong password here", "203.0.113.5")).session is None
    assert json.loads(await client.get(key))["password"] == old  # a failure changes nothing
    session = (await people.login("old-timer", PASSWORD, "203.0.113.5")).session
    assert session is not None and session.role == "supervisor"
    record = json.loads(await client.get(key))
    assert record["password"].startswith("$argon2id$v=19$m=19456,t=2,p=1$") and record["role"] == "supervisor"
    assert (await people.login("old-timer", PASSWORD, "203.0.113.5")).session is not None


async def test_hashes_run_off_the_event_loop_one_at_a_time(redis_prefix, monkeypatch):
    people = await accounts(redis_prefix, LoginPolicy(account_tries=100, address_tries=100))
    running, most = 0, 0
    real = counsellors_module._check

    def watched(stored: str, password: str) -> tuple[bool, bool]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            return real(stored, password)
        finally:
            running -= 1

    monkeypatch.setattr(counsellors_module, "_check", watched)
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    started = time.monotonic()
    await asyncio.gather(*(people.login("amina", f"guess {i}", "203.0.113.5") for i in range(8)))
    ticker.cancel()
    assert most == 1  # one hash at a time ...
    assert ticks >= 0.25 * (time.monotonic() - started) / 0.001  # ... while the loop kept running
    hashing = people._hashing
    niceness = await hashing._run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert niceness == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)  # and gives way to it when cores are busy


async def test_unknown_usernames_cost_a_hash_and_count_like_any(redis_prefix, monkeypatch):
    people = await accounts(redis_prefix)
    checked = checks_counted(monkeypatch)
    answers = [await people.login("nobody-here", "some guess here", "203.0.113.5") for _ in range(4)]
    assert [a.locked for a in answers] == ["", "", "account", "account"] and len(checked) == 3
    assert checked[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # as long as a real account's check


def test_the_client_address_trusts_only_the_configured_proxies():
    proxies = [ip_network("127.0.0.1/32"), ip_network("10.0.0.0/8")]
    assert client_address("203.0.113.5", "198.51.100.1", proxies) == "203.0.113.5"  # not a proxy: its header is not
    assert client_address("127.0.0.1", "198.51.100.1", proxies) == "198.51.100.1"
    assert client_address("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3", proxies) == "198.51.100.1"  # nearest
    assert client_address("127.0.0.1", None, proxies) == "127.0.0.1"
    assert client_address("127.0.0.1", "198.51.100.1", []) == "127.0.0.1"  # no proxies configured
    assert address_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64" and address_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert address_key("not an address") == "not an address" and address_key("") == "unknown"


def test_a_refusal_says_why_and_when_to_try_again():
    assert refusal("account", 1) == "Too many failed logins for this account. Try again in 1 second."
    assert refusal("address", 60) == "Too many failed logins from your address. Try again in 60 seconds."
    assert refusal("account", 900) == "Too many failed logins for this account. Try again in 15 minutes."
    assert refusal("busy", 1) == "Too many logins are being checked right now. Try again in 1 second."


def test_the_login_settings_are_checked_and_reach_the_accounts():
    settings = Settings.from_environ(
        {
            "CONSOLE_PROXIES": " 127.0.0.1, 10.0.0.0/8 ,::1",
            "CONSOLE_LOGIN_TRIES": "4",
            "CONSOLE_ADDRESS_TRIES": "40",
            "CONSOLE_LOCK_S": "30",
            "CONSOLE_LOCK_MAX_S": "600",
            "CONSOLE_AUDIT_DAYS": "90",
            "REDIS_URL": REDIS_URL,
        }
    )
    assert settings.proxies == (ip_network("127.0.0.1/32"), ip_network("10.0.0.0/8"), ip_network("::1/128"))
    services = Services(settings)
    assert services.counsellors._throttle.policy == LoginPolicy(4, 40, 30, 600)
    assert services.audit.keep_ms == 90 * 86_400_000
    assert Settings.from_environ({}).proxies == ()  # none: X-Forwarded-For is never believed
    for environ, named in (
        ({"CONSOLE_PROXIES": "127.0.0.1,proxy.example"}, "CONSOLE_PROXIES must list addresses or networks"),
        ({"CONSOLE_LOGIN_TRIES": "0"}, "CONSOLE_LOGIN_TRIES must be a whole number from 1 to 100"),
        ({"CONSOLE_LOCK_S": "120", "CONSOLE_LOCK_MAX_S": "60"}, r"CONSOLE_LOCK_MAX_S \(60\) must be at least"),
        ({"CONSOLE_AUDIT_DAYS": "5000"}, "CONSOLE_AUDIT_DAYS must be a whole number from 1 to 3650"),
    ):
        with pytest.raises(SettingsError, match=named):
            Settings.from_environ(environ)
