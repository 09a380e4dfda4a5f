"""How many turns one server runs at once, children in danger first.

Every turn of a server shares one event loop (and one core): with 60 children talking, each turn
is cut into slices among all the others, and a child who just wrote "I want to die" waited as long
as everyone for their ticket to reach a counsellor (1.5 s p50, 2.8 s p99 in ``make bench-cluster``).
So a server runs at most ``size`` turns at a time; the others wait their turn in arrival order,
except a message the crisis phrase lists flagged when it came in (``urgent``), which goes first.
The same work is done; the turns under way finish sooner, and a crisis jumps the queue.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from contextlib import asynccontextmanager
from typing import AsyncIterator


class TurnGate:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a server must be able to run at least one turn")
        self.size = size
        self._running = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # (0 urgent / 1 not, arrival, wake-up)
        self._arrivals = itertools.count()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @asynccontextmanager
    async def slot(self, urgent: bool = False) -> AsyncIterator[None]:
        """Run the block as one of the ``size`` turns under way, once a slot is free."""
        if self._running < self.size and not self._waiting:
            self._running += 1
        else:
            woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (0 if urgent else 1, next(self._arrivals), woken))
            try:
                await woken  # the slot is handed over by the turn that ends: _running stays counted
            except asyncio.CancelledError:
                if woken.done() and not woken.cancelled():
                    self._hand_on()  # cancelled after it was handed the slot: pass it on
                else:
                    self._waiting = [w for w in self._waiting if w[2] is not woken]
                    heapq.heapify(self._waiting)
                raise
        try:
            yield
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        """A slot is free: give it to the first waiting turn (urgent ones first), else free it."""
        while self._waiting:
            _, _, woken = heapq.heappop(self._waiting)
            if not woken.done():
                woken.set_result(None)
                return
        self._running -= 1
