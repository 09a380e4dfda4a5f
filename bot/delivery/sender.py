"""The loop that empties the outbox, in each Rasa server (started by channels/services.py).

A sender takes new entries from the outbox's consumer group, takes over the entries of senders
that died (idle longer than ``claim_idle_s``) and, for each child, tries only their next message:
under the child's lease, through the channel's transport, within ``send_timeout_s``. A retry waits
as bot.delivery.policy says, a refusal or a message too old ends it as failed. While it holds
entries it tells the outbox so every third of the idle time, so a slow retry is not taken from a
live sender. On shutdown it stops taking entries, lets attempts under way finish within the limit
and hands the rest back, marked idle, for another server to take at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Optional

from bot.delivery.attempt import NO_CHANNEL, TOO_OLD, Attempt, Outcome
from bot.delivery.outbox import Begun, Go, Outbox, Pending
from bot.delivery.policy import Policy
from bot.delivery.transports import Transport

logger = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0  # an API that has not answered by then is tried again later
LEASE_MS = 15_000  # a child's lease: over one attempt (SEND_TIMEOUT_S), so it never lapses while one is under way
READ_BLOCK_MS = 1000
CONCURRENCY = 32  # attempts under way at once in one process (each to another child)
MAX_HELD = 2000  # entries one process holds before it stops reading more
BUSY_WAIT_S = 0.2  # another sender is writing to this child: look again this soon
WAIT_MIN_S, WAIT_MAX_S = 0.1, 2.0  # an earlier message of the child is with another sender
STORE_PAUSE_S = 1.0  # Redis failed: the loops pause this long
FORGET_SENDERS_AFTER_MS = 3_600_000  # a sender silent this long, holding nothing, was a server since restarted


def default_consumer() -> str:
    """This process's name in the consumer group when HELPLINE_OUTBOX_CONSUMER is not set."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class _Held:
    pending: Pending
    due: float = 0.0  # time.monotonic() of the next attempt


class Sender:
    """Sends the outbox's messages from this process (see the module's docstring)."""

    def __init__(
        self,
        outbox: Outbox,
        policy: Policy,
        consumer: str,
        claim_idle_s: float,
        transports: Optional[dict[str, Transport]] = None,
        send_timeout_s: float = SEND_TIMEOUT_S,
    ) -> None:
        self.outbox, self.policy, self.consumer = outbox, policy, consumer
        self.transports: dict[str, Transport] = transports if transports is not None else {}
        self._claim_idle_ms = int(claim_idle_s * 1000)
        self._send_timeout_s = send_timeout_s
        self._held: dict[str, _Held] = {}
        self._busy: set[str] = set()  # children with an attempt under way here
        self._attempts: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._stopping = False

    async def run(self) -> None:
        """Send until :meth:`stop`: first what this consumer held before a restart, then the rest."""
        try:
            self._hold(await self.outbox.own(self.consumer))
        except Exception as error:  # noqa: BLE001 - the claim loop finds them later
            logger.warning("could not read this sender's own pending messages (%s)", type(error).__name__)
        self._loops = [asyncio.ensure_future(loop()) for loop in (self._read, self._claim, self._dispatch)]
        await asyncio.gather(*self._loops, return_exceptions=True)

    async def stop(self, limit_s: float) -> int:
        """Stop taking entries, let attempts under way end within ``limit_s``, and hand every entry
        still held back to the other senders. Returns how many were handed back."""
        self._stopping = True
        for loop in self._loops:
            loop.cancel()
        if self._attempts:
            _, late = await asyncio.wait(list(self._attempts), timeout=limit_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        try:
            handed = await self.outbox.hand_back(self.consumer, self._claim_idle_ms)
        except Exception as error:  # noqa: BLE001 - then they are claimed after the idle time
            logger.warning("could not hand messages back on shutdown (%s)", type(error).__name__)
            return 0
        logger.info("sender %s stopped: %d messages handed to other servers", self.consumer, handed)
        return handed

    def offer(self, found: list[Pending]) -> None:
        """Send these now: a turn of this process queued them and read them for this sender, in one
        step (bot.delivery.outbox's ``enqueue_replies``), so they are this sender's as if read here."""
        self._hold(found)

    def _hold(self, found: list[Pending]) -> None:
        for pending in found:
            self._held.setdefault(pending.entry, _Held(pending))
        if found:
            self._wake.set()

    async def _read(self) -> None:
        while not self._stopping:
            if len(self._held) >= MAX_HELD:
                await asyncio.sleep(BUSY_WAIT_S)
                continue
            try:
                self._hold(await self.outbox.read(self.consumer, READ_BLOCK_MS))
            except Exception as error:  # noqa: BLE001 - Redis down: try again shortly
                logger.warning("reading the outbox failed (%s)", type(error).__name__)
                await asyncio.sleep(STORE_PAUSE_S)

    async def _claim(self) -> None:
        """Keep the entries held here, and take over those a dead sender left."""
        while not self._stopping:
            try:
                asked = list(self._held)  # only these: what is offered while Redis answers is ours
                kept = await self.outbox.keep(self.consumer, asked)
                for entry in set(asked) - kept:  # taken over meanwhile: that sender goes on
                    held = self._held.get(entry)
                    if held is not None and held.pending.conversation not in self._busy:
                        del self._held[entry]
                self._hold(await self.outbox.reclaim(self.consumer, self._claim_idle_ms))
                await self.outbox.prune(FORGET_SENDERS_AFTER_MS)
            except Exception as error:  # noqa: BLE001
                logger.warning("keeping or claiming outbox entries failed (%s)", type(error).__name__)
            await asyncio.sleep(self._claim_idle_ms / 3000)

    async def _dispatch(self) -> None:
        """Start an attempt for each child whose next message held here is due."""
        while not self._stopping:
            self._wake.clear()
            now = time.monotonic()
            next_due = now + 1.0
            first: dict[str, _Held] = {}
            for held in self._held.values():
                child = held.pending.conversation
                if child not in self._busy and (child not in first or held.pending.seq < first[child].pending.seq):
                    first[child] = held
            for held in sorted(first.values(), key=lambda h: h.due):
                if held.due > now:
                    next_due = min(next_due, held.due)
                elif len(self._attempts) < CONCURRENCY:
                    self._start(held)
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_due - now))
            except asyncio.TimeoutError:
                pass

    def _start(self, held: _Held) -> None:
        self._busy.add(held.pending.conversation)
        task = asyncio.ensure_future(self._attempt(held))
        self._attempts.add(task)
        task.add_done_callback(self._attempts.discard)

    async def _attempt(self, held: _Held) -> None:
        pending, token = held.pending, ""
        try:
            begun = await self.outbox.begin(pending, LEASE_MS) if pending.message else Begun(Go.DONE)
            if begun.go is Go.DONE:
                await self.outbox.drop(pending)
                self._held.pop(pending.entry, None)
            elif begun.go is Go.BUSY:
                held.due = time.monotonic() + BUSY_WAIT_S
            elif begun.go is Go.WAIT:
                held.due = time.monotonic() + min(WAIT_MAX_S, max(WAIT_MIN_S, begun.head_due - time.time()))
            else:
                token = begun.token
                attempt = await self._send(pending, begun)
                next_at = 0.0
                if attempt.outcome is Outcome.RETRY:
                    wait = self.policy.wait_after(attempt, begun.attempts)
                    wait = min(wait, max(0.0, begun.created_at + self.policy.max_age_s - time.time()))
                    next_at, held.due = time.time() + wait, time.monotonic() + wait
                    logger.info("outbox entry %s: %s; next attempt in %.1f s", pending.entry, attempt.reason, wait)
                elif attempt.outcome is Outcome.REFUSED:
                    logger.warning("outbox entry %s failed: %s", pending.entry, attempt.reason)
                await self.outbox.finish(pending, token, attempt, next_at)
                token = ""
                if attempt.outcome is not Outcome.RETRY:
                    self._held.pop(pending.entry, None)
        except Exception as error:  # noqa: BLE001 - Redis failed mid-way: the entry stays pending, tried again
            logger.warning("outbox entry %s: recording an attempt failed (%s)", pending.entry, type(error).__name__)
            held.due = time.monotonic() + STORE_PAUSE_S
        finally:
            if token:  # cut short (shutdown, or Redis failed): let the child's next attempt go at once
                await asyncio.shield(self._release(pending, token))
            self._busy.discard(pending.conversation)
            self._wake.set()

    async def _send(self, pending: Pending, begun: Begun) -> Attempt:
        assert begun.message is not None
        if self.policy.too_old(begun.created_at, time.time()):
            return Attempt.refused(TOO_OLD)
        transport = self.transports.get(pending.channel)
        if transport is None:
            return Attempt.refused(NO_CHANNEL)
        message = begun.message
        try:
            return await asyncio.wait_for(
                transport.send(pending.conversation, message.text, message.buttons), self._send_timeout_s
            )
        except asyncio.TimeoutError:
            return Attempt.retry(f"no answer from {pending.channel} within {self._send_timeout_s:.0f} s")
        except Exception as error:  # noqa: BLE001 - a refused connection, an unknown answer: try again
            return Attempt.retry(f"{pending.channel} could not be reached ({type(error).__name__})")

    async def _release(self, pending: Pending, token: str) -> None:
        try:
            await self.outbox.release(pending, token)
        except Exception as error:  # noqa: BLE001 - then the lease lapses by itself
            logger.warning("could not release a child's lease (%s)", type(error).__name__)
