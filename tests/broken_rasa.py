"""Lock stores that break Rasa's core on purpose, to test that the channels still answer a child.

Rasa survives a failing tracker store (it falls back to memory), but every message passes through
the lock store, so a lock store that raises or stalls makes the whole turn raise or hang. Used by
tests/test_channels.py through endpoints.yml (``lock_store: type: tests.broken_rasa.X``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import InMemoryLockStore


class RaisingLockStore(InMemoryLockStore):
    """Every message makes Rasa's core raise, as a broken store or a bug would."""

    def __init__(self, **_: Any) -> None:
        super().__init__()

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        raise RuntimeError("lock store broken on purpose")


class SlowLockStore(InMemoryLockStore):
    """Every message takes 30 s, far past the channels' time limit."""

    def __init__(self, **_: Any) -> None:
        super().__init__()

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        await asyncio.sleep(30)
        return await super()._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
