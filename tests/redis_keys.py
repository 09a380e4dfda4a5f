"""Cleaning up after a test that wrote to the shared Redis under its own key prefix."""

from __future__ import annotations

import redis.asyncio as aioredis


async def drop_and_close(client: aioredis.Redis, prefix: str) -> None:
    """Delete every key under ``prefix``, then close the client."""
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.close()
