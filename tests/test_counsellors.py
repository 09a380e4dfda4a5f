"""Counsellor passwords and sessions."""

import asyncio
import secrets

import pytest
import redis.asyncio as aioredis

from bot.counsellors import AccountError, Counsellors, hash_password, password_matches


def test_passwords_are_salted_slow_hashes():
    first, second = hash_password("a long password 1"), hash_password("a long password 1")
    assert first != second and first.startswith("scrypt$") and "a long password" not in first
    assert password_matches("a long password 1", first) and not password_matches("a long password 2", first)
    assert not password_matches("anything", "not-a-hash")


def test_accounts_sessions_and_logout_on_redis():
    prefix = f"test-console:{secrets.token_hex(4)}:"

    async def scenario() -> None:
        client = aioredis.from_url("redis://127.0.0.1:6379/0")
        try:
            counsellors = Counsellors(client, prefix)
            with pytest.raises(AccountError):
                await counsellors.add("Bad Name", "KE", "a long enough password")
            with pytest.raises(AccountError):
                await counsellors.add("amina", "KE", "short")
            await counsellors.add("amina", "ke", "a long enough password")
            assert await counsellors.login("amina", "wrong password here") is None
            session = await counsellors.login("amina", "a long enough password")
            assert session.helpline == "KE" and session.csrf != session.token
            assert (await counsellors.session(session.token)).username == "amina"
            ttl = await client.ttl(f"{prefix}session:{session.token}")
            assert 0 < ttl <= 8 * 3600  # sessions expire
            await counsellors.logout(session.token)
            assert await counsellors.session(session.token) is None and await counsellors.session(None) is None
        finally:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
            await client.close()

    asyncio.run(scenario())
