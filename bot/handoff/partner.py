"""A helpline's own contact-centre system: its tickets go out by signed webhook, its counsellors'
replies come back through the signed API of console/partner_api.py (both in console/openapi.yml).

A desk with a ``webhook`` (data/handoff.yml) gets every event of its tickets POSTed as JSON, in
order, each carrying the whole current ticket: the receiver upserts by ticket id, so a repeated
delivery is harmless. Both directions are signed with the desk's secret over a timestamp, so a
captured request cannot be replayed later. Delivery runs in the Rasa server processes; one at a
time per desk holds a short Redis lock, and the last delivered event is kept in Redis, so a restart
or a second server neither loses nor repeats what was delivered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import random
import re
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Optional, Protocol

import httpx

from bot.handoff.desks import Desk, Desks
from bot.handoff.queue import Event, HandoffQueue, Ticket
from bot.storage.stores import RedisClient, as_text

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Helpline-Signature"
DESK_HEADER = "X-Helpline-Desk"
TOLERANCE_S = 300  # a signature older (or newer) than this is refused: clocks may drift, replays may not
HTTP_TIMEOUT_S = 5.0
LOCK_MS = 30_000  # a crashed server's desks are taken over within this and a third more
EVENT_TYPES = {"opened": "ticket.opened", "changed": "ticket.updated", "message": "ticket.message"}
NOT_SENT = ("delivery",)  # a message's delivery state: for the console, not in the webhook's contract (yet)
_SIGNATURE = re.compile(r"t=(\d{1,12}),v1=([0-9a-fA-F]{64})", re.ASCII)


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Helpline-Signature`` value: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, header: Optional[str], body: bytes, now: float, tolerance_s: int = TOLERANCE_S) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` at a time within ``tolerance_s`` of ``now``,
    either side: an old signature may be a replay, and one from the future would outlive the window."""
    found = _SIGNATURE.fullmatch(header or "")
    if found is None or abs(now - int(found[1])) > tolerance_s:
        return False
    return hmac.compare_digest(found[2].lower(), _digest(secret, int(found[1]), body))


def signed_request(method: str, path: str, body: bytes) -> bytes:
    """What a request to the reply API is signed over: with its method and path, so a signature
    made to read one ticket cannot claim or close another."""
    return f"{method.upper()} {path}\n".encode() + body


def _time(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="seconds")


def ticket_view(ticket: Ticket) -> dict[str, Any]:
    """A ticket as a helpline's system sees it (webhook and API alike): never the child's address,
    nor the conversation id that stands for it."""
    return {
        "id": ticket.id,
        "helpline": ticket.helpline,
        "channel": ticket.channel,
        "country": ticket.country,
        "language": ticket.language,
        "risk": ticket.risk.name.lower(),
        "reason": ticket.reason,
        "intake": ticket.intake,
        "last_messages": list(ticket.last_messages),
        "state": ticket.state.value,
        "counsellor": ticket.counsellor,
        "outcome": ticket.outcome,
        "created_at": _time(ticket.created_at),
        "updated_at": _time(ticket.updated_at),
    }


def payload(event: Event, ticket: Ticket, message: Optional[tuple[str, str]] = None) -> dict[str, Any]:
    """The webhook body: what happened, and the ticket as it is now."""
    kind = EVENT_TYPES.get(event.kind, "ticket.updated")  # a kind added later is still a change of the ticket
    body: dict[str, Any] = {"event": event.id, "type": kind, "ticket": ticket_view(ticket)}
    if message is not None:
        body["message"] = {"author": message[0], "text": message[1]}
    return body


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts at one event: doubling from ``first_s`` up to ``max_s``, each up to a
    quarter shorter at random, so bots retrying after one outage do not knock in step."""

    first_s: float = 1.0
    max_s: float = 300.0

    def delay(self, attempt: int) -> float:
        """The wait after the ``attempt``-th failure (1, 2, ...)."""
        return min(self.max_s, self.first_s * 2.0 ** min(attempt - 1, 30)) * random.uniform(0.75, 1.0)


class PartnerStore(Protocol):
    """Which process delivers a desk's events, and how far it got."""

    async def hold(self, helpline: str, owner: str, ms: int) -> bool:
        """Take or keep the desk's delivery lock for ``ms``; False while another owner holds it."""

    async def release(self, helpline: str, owner: str) -> None: ...

    async def cursor(self, helpline: str) -> str:
        """The last event delivered; "0" before the first (every event still kept goes out)."""

    async def advance(self, helpline: str, owner: str, event_id: str) -> bool:
        """Record ``event_id`` as delivered, only while ``owner`` holds the lock (False: it lost it)."""


class MemoryPartnerStore:
    """For the in-memory handoff queue of the local quick start: one process, gone on restart."""

    def __init__(self) -> None:
        self._locks: dict[str, str] = {}  # no expiry: a stopped delivery releases on its way out
        self._cursors: dict[str, str] = {}

    async def hold(self, helpline: str, owner: str, ms: int) -> bool:
        return self._locks.setdefault(helpline, owner) == owner

    async def release(self, helpline: str, owner: str) -> None:
        if self._locks.get(helpline) == owner:
            del self._locks[helpline]

    async def cursor(self, helpline: str) -> str:
        return self._cursors.get(helpline, "0")

    async def advance(self, helpline: str, owner: str, event_id: str) -> bool:
        if self._locks.get(helpline) != owner:
            return False
        self._cursors[helpline] = event_id
        return True


_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 0"
_ADVANCE = "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end redis.call('SET', KEYS[2], ARGV[2]) return 1"


class RedisPartnerStore:
    """``<prefix>lock:<desk>`` (owner, expiring) and ``<prefix>cursor:<desk>`` (kept for good);
    each check-and-change is one Lua script, so two servers never both deliver."""

    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._redis, self._prefix = client, prefix
        self._hold, self._release = client.register_script(_HOLD), client.register_script(_RELEASE)
        self._advance = client.register_script(_ADVANCE)

    def _lock(self, helpline: str) -> str:
        return f"{self._prefix}lock:{helpline}"

    def _cursor(self, helpline: str) -> str:
        return f"{self._prefix}cursor:{helpline}"

    async def hold(self, helpline: str, owner: str, ms: int) -> bool:
        return bool(await self._hold(keys=[self._lock(helpline)], args=[owner, ms]))

    async def release(self, helpline: str, owner: str) -> None:
        await self._release(keys=[self._lock(helpline)], args=[owner])

    async def cursor(self, helpline: str) -> str:
        value = await self._redis.get(self._cursor(helpline))
        return as_text(value) if value else "0"

    async def advance(self, helpline: str, owner: str, event_id: str) -> bool:
        return bool(await self._advance(keys=[self._lock(helpline), self._cursor(helpline)], args=[owner, event_id]))


class _LockLost(Exception):
    """Another process delivers this desk's events now (this one stalled past the lock)."""


class PartnerDelivery:
    """Delivers each webhook desk's events in order, one event at a time, retried until accepted.

    Every failure (no connection, timeout, any answer but 2xx, 4xx included) is retried with
    backoff, forever: a 4xx is most often a receiver misconfigured for a while (secret, address),
    and skipping would lose a child's message. Later events of that desk wait behind it, in order.
    """

    def __init__(
        self,
        queue: HandoffQueue,
        desks: Desks,
        store: PartnerStore,
        http: httpx.AsyncClient,
        backoff: Backoff = Backoff(),
        lock_ms: int = LOCK_MS,
        poll_ms: int = 1000,
    ) -> None:
        self._queue, self._desks, self._store, self._http = queue, desks, store, http
        self._backoff, self._lock_ms, self._poll_ms = backoff, lock_ms, poll_ms
        self._owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    async def run_forever(self) -> None:
        """Deliver until cancelled, each webhook desk in its own loop."""
        await asyncio.gather(*(self._desk_forever(desk) for desk in self._desks.all() if desk.webhook))

    async def _desk_forever(self, desk: Desk) -> None:
        try:
            while True:
                try:
                    if await self._store.hold(desk.helpline, self._owner, self._lock_ms):
                        await self._deliver_while_held(desk)
                    else:  # another server delivers; take over if it stops
                        await asyncio.sleep(self._lock_ms / 3000)
                except _LockLost:
                    logger.warning("webhook of desk %s: another server took over the delivery", desk.helpline)
                except Exception as error:  # noqa: BLE001 - Redis away for a moment: keep going
                    logger.error("webhook of desk %s: delivery interrupted (%s)", desk.helpline, type(error).__name__)
                    await asyncio.sleep(1)
        finally:
            try:
                await self._store.release(desk.helpline, self._owner)  # the next server need not wait
            except Exception:  # noqa: BLE001 - it expires anyway
                pass

    async def _deliver_while_held(self, desk: Desk) -> None:
        cursor = await self._store.cursor(desk.helpline)
        while True:
            for event in await self._queue.events(desk.helpline, after=cursor, block_ms=self._poll_ms):
                if event.kind not in NOT_SENT:
                    await self._deliver(desk, event)
                if not await self._store.advance(desk.helpline, self._owner, event.id):
                    raise _LockLost
                cursor = event.id
            await self._keep(desk)

    async def _keep(self, desk: Desk) -> None:
        if not await self._store.hold(desk.helpline, self._owner, self._lock_ms):
            raise _LockLost

    async def _deliver(self, desk: Desk, event: Event) -> None:
        body = await self._body(event)
        if body is None:
            logger.error(
                "webhook of desk %s: event %s names a ticket or message that is gone; skipped", desk.helpline, event.id
            )
            return
        attempt = 0
        while True:
            await self._keep(desk)
            failure = await self._post(desk, event, body)
            if failure is None:
                return
            attempt += 1
            delay = self._backoff.delay(attempt)
            logger.warning(
                "webhook of desk %s: event %s failed (%s), attempt %d; next in %.1f s",
                desk.helpline,
                event.id,
                failure,
                attempt,
                delay,
            )
            await self._wait(desk, delay)

    async def _body(self, event: Event) -> Optional[bytes]:
        ticket = await self._queue.get(event.ticket)
        message = await self._queue.message(event.ticket, event.entry) if event.kind == "message" else None
        if ticket is None or (event.kind == "message" and message is None):
            return None
        return json.dumps(payload(event, ticket, message), ensure_ascii=False).encode()

    async def _post(self, desk: Desk, event: Event, body: bytes) -> Optional[str]:
        """None when the receiver took it; else why not (never the payload: it holds a child's words)."""
        assert desk.webhook is not None
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(desk.webhook.secret, int(time.time()), body),
            DESK_HEADER: desk.helpline,
            "Idempotency-Key": event.id,
        }
        try:
            answer = await self._http.post(desk.webhook.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return type(error).__name__
        return None if answer.is_success else f"HTTP {answer.status_code}"

    async def _wait(self, desk: Desk, seconds: float) -> None:
        """Sleep before the next attempt, keeping the lock meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(left, self._lock_ms / 3000))
            await self._keep(desk)


async def deliver_to_partners(queue: HandoffQueue, desks: Desks, client: Optional[RedisClient], prefix: str) -> None:
    """The Rasa server's webhook delivery (channels/services.py); returns at once when no desk has
    a webhook. ``client`` is the server's Redis (None with the in-memory queue)."""
    if not any(desk.webhook for desk in desks.all()):
        return
    store = RedisPartnerStore(client, prefix + "partner:") if client is not None else MemoryPartnerStore()
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as http:
        await PartnerDelivery(queue, desks, store, http).run_forever()
