"""The journal of children's messages that were acknowledged but not yet answered.

Telegram and Twilio take a webhook's 200 as "delivered" and never send the message again, so a
message must be durable *before* that answer: a server killed, restarted or stopped mid-burst
must not lose it. Each message is appended to its conversation's own stream
(``<prefix>inbound:<conversation>``) together with its dedupe key, in one atomic step, before the
webhook is answered. Then whoever holds the conversation's lease answers its messages one after
another, in order, and removes each once its turn is done. A server that dies leaves the lease to
expire; every server looks for conversations whose messages wait with nobody working on them
(``<prefix>inbound:ready``) and takes them over, from the oldest message on.

The lease is a fencing token: the next number of the conversation's counter, set with ``NX PX``,
renewed while working, released by compare-and-delete only once the stream is empty. Every write
that ends a turn checks, atomically, that the token is still the lease's; a server paused or cut
off past its lease finds its token stale and writes nothing (:class:`LeaseLost`), so it can never
overwrite what the next owner did. A turn ends in one transaction: the conversation's new state,
the message's removal and the turn's replies in the outbox (:class:`CommitsWith`), so a server
killed mid-turn leaves nothing half done: the child gets the replies of the one run that was
committed, never a dead run's and its successor's. The turn's :class:`Claim` travels with the
turn in a context variable (``CLAIM``), so Rasa's tracker store finds the token without Rasa
knowing of it.

If the journal cannot be written (Redis refused, frozen, timed out), the caller must not pretend
the message is safe: the channels answer it in the webhook's own response with the fail-safe
reply (the numbers), which needs no store.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional, Protocol

from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from bot.storage.stores import RedisClient, as_text, stream_field
from bot.storage.turn_gate import TurnGate

logger = logging.getLogger(__name__)

COMMIT_TRIES = 5  # a commit looks at the lease again when it changed meanwhile (renewed by this worker)
LEASE_MS = 10_000  # a dead server's conversations wait at most this long for another server
ORPHAN_AFTER_MS = 1_000  # a recorded message nobody took within this long is looked after by the sweep
SWEEP_BATCH = 100
BATCH = 10  # a conversation's messages read at once by the worker that holds it

FENCE_KEPT_S = 400 * 24 * 3600  # a conversation's token counter: far longer than any conversation is kept

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class NotHere(Exception):
    """A recorded message of a channel this server does not run (its Rasa credentials leave it out)."""


class LeaseLost(Exception):
    """The lease lapsed and another worker took the conversation: this turn's writes were refused."""


@dataclass(frozen=True)
class Entry:
    """One recorded message: its place in the conversation's stream, what the channel stored, and
    its dedupe key (the same each time the message is handled: the turn's key for side effects)."""

    id: str
    payload: dict[str, Any]
    key: str = ""


@dataclass(frozen=True)
class Lease:
    conversation: str
    token: str  # the fencing token: the conversation's counter when the lease was taken
    # the oldest unanswered messages, read with the lease (so the first batch costs no call of its own)
    waiting: tuple[Entry, ...] = field(default=(), compare=False)


@dataclass
class Claim:
    """The message a worker is answering, under its lease, and what the turn will send the child
    (filled by the channel's output, sent once the turn is committed)."""

    lease: Lease
    entry: Entry
    replies: list[Any] = field(default_factory=list)  # bot.delivery.outbox.Message, queued in order
    queued: int = 0  # how many of ``replies`` are in the outbox already
    removed: bool = False  # the message left the journal with the conversation's new state
    send_now: Optional[Callable[[Any], Awaitable[bool]]] = None  # the channel's direct send, if the outbox fails

    @property
    def key(self) -> str:
        """The turn's key: side effects keyed by it happen once however often the message is handled."""
        return self.entry.key or f"{self.lease.conversation}:{self.entry.id}"


class CommitsWith(Protocol):
    """Writes that must be made with a turn's commit or not at all: the turn's replies, so a child
    is sent exactly the answer of the turn that was committed. (Queued before the commit, a server
    killed in between leaves replies that the turn's second run, by another server, may not give.)"""

    async def within(self, transaction: Any) -> None:
        """Add the writes to ``transaction`` (a Redis pipeline after MULTI); their answer is its last."""

    def committed(self, answer: Any) -> None:
        """The transaction was written; ``answer``: what the added writes returned."""

    async def alone(self) -> None:
        """Make the writes on their own, now (the embedded store: one process, no second run)."""


@dataclass(frozen=True)
class NewState:
    """How a turn ends: the conversation's new state (``state``, kept ``ttl_s``, under ``sender``),
    whether it holds the claimed message's answer (Rasa also saves a new conversation before it
    reads the message: that save must not remove it), and what must be written with it."""

    sender: str
    state: str
    ttl_s: int
    answered: bool = True
    with_it: Optional[CommitsWith] = None


CLAIM: contextvars.ContextVar[Optional[Claim]] = contextvars.ContextVar("inbound_claim", default=None)


class Journal(Protocol):
    async def record(self, conversation: str, dedupe_key: str, dedupe_ttl_s: int, payload: dict[str, Any]) -> bool:
        """Keep the message durably; False if ``dedupe_key`` was seen already (a retried
        webhook). Raises when the store fails: then nothing was recorded."""

    async def take(self, conversation: str) -> Optional[Lease]:
        """The conversation's lease, with its first :meth:`entries`; None while another worker (or
        this one) holds it."""

    async def renew(self, lease: Lease) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another worker)."""

    async def entries(self, lease: Lease, count: int = BATCH) -> list[Entry]:
        """The conversation's oldest unanswered messages, in the order they arrived."""

    async def done(self, lease: Lease, entry: Entry) -> None:
        """The message's turn is over: remove it. Raises :class:`LeaseLost` if the lease is not ours."""

    async def save_conversation(self, claim: Claim, conversations: Any, new: NewState) -> None:
        """Store the conversation's new state and, once it answers the claimed message, remove the
        message, and make ``new.with_it``'s writes, all at once, only while the claim's lease is
        the conversation's (else :class:`LeaseLost`, nothing written)."""

    async def release(self, lease: Lease) -> bool:
        """Give the lease up if no message waits; False (lease kept) when one arrived meanwhile."""

    async def hand_back(self, lease: Lease) -> None:
        """Give the lease up with messages still waiting (shutting down): another server goes on."""

    async def orphans(self, now_ms: Optional[int] = None) -> list[str]:
        """Conversations with messages waiting for longer than ORPHAN_AFTER_MS (whoever holds them)."""

    async def forget(self, conversation: str) -> None:
        """The child asked to be erased: drop the conversation's token counter (its name is the
        child's id). The lease and any message still waiting stay: the turn under way ends as usual,
        and a message written after "delete" is still answered."""


# --- Redis -----------------------------------------------------------------------------------

# KEYS: dedupe, stream, ready; ARGV: dedupe ttl (ms), conversation, payload, now (ms)
_RECORD = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], '*', 'payload', ARGV[3], 'key', ARGV[5])
redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[2])
return 1
"""
# KEYS: lease, counter, stream; ARGV: lease ms, counter kept s, entries. The new fencing token and the
# oldest entries, or false if held.
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return {token, redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', ARGV[3])}
"""
# KEYS: lease, stream; ARGV: token, entry. 1 removed, 0 not ours
_DONE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('XDEL', KEYS[2], ARGV[2])
return 1
"""
# KEYS: lease; ARGV: token, lease ms
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS: lease, stream, ready; ARGV: token, conversation. 1 released, 0 more waiting, -1 not ours
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('XLEN', KEYS[2]) > 0 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
"""
# KEYS: lease; ARGV: token
_HAND_BACK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


class RedisJournal:
    """The journal on Redis, shared by every server (see the module's docstring)."""

    def __init__(self, client: RedisClient, prefix: str, lease_ms: int = LEASE_MS) -> None:
        self._redis, self._prefix, self.lease_ms = client, prefix, lease_ms
        self._record = client.register_script(_RECORD)
        self._take = client.register_script(_TAKE)
        self._done = client.register_script(_DONE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._hand_back = client.register_script(_HAND_BACK)

    def _stream(self, conversation: str) -> str:
        return f"{self._prefix}inbound:{conversation}"

    def _lease(self, conversation: str) -> str:
        return f"{self._prefix}inbound-lease:{conversation}"

    def _counter(self, conversation: str) -> str:
        return f"{self._prefix}inbound-fence:{conversation}"

    @property
    def _ready(self) -> str:
        return f"{self._prefix}inbound:ready"

    def dedupe_key(self, key: str) -> str:
        return f"{self._prefix}dedupe:{key}"  # bot.storage.stores.RedisDedupe's: erasure finds both

    async def record(self, conversation: str, dedupe_key: str, dedupe_ttl_s: int, payload: dict[str, Any]) -> bool:
        """As :class:`Journal` says. A call that ran out of time is made once more: the time limit
        may have run out in this process, busy for a moment under load, and not in Redis
        (bot.storage.guard). The dedupe key makes the second call safe; if it finds the key set,
        the first call was written after all (or Twilio sent the message twice meanwhile, which
        is answered once all the same), so the message counts as new: its conversation is woken."""
        keys = [self.dedupe_key(dedupe_key), self._stream(conversation), self._ready]
        now = int(time.time() * 1000)
        payload_text = json.dumps(payload, ensure_ascii=False)
        args: list[str | int] = [dedupe_ttl_s * 1000, conversation, payload_text, now, dedupe_key]
        try:
            return bool(await self._record(keys=keys, args=args))
        except RedisTimeoutError:
            logger.warning("journalling a message ran out of time: trying once more")
            await self._record(keys=keys, args=args)
            return True

    async def take(self, conversation: str) -> Optional[Lease]:
        keys = [self._lease(conversation), self._counter(conversation), self._stream(conversation)]
        taken = await self._take(keys=keys, args=[self.lease_ms, FENCE_KEPT_S, BATCH])
        if not taken:
            return None
        token, found = taken
        # a script returns an entry's fields as a flat list: pair them as the client does
        waiting = (_entry(entry, dict(zip(fields[::2], fields[1::2], strict=True))) for entry, fields in found)
        return Lease(conversation, str(as_text(token)), tuple(waiting))

    async def renew(self, lease: Lease) -> bool:
        return bool(await self._renew(keys=[self._lease(lease.conversation)], args=[lease.token, self.lease_ms]))

    async def entries(self, lease: Lease, count: int = BATCH) -> list[Entry]:
        found = await self._redis.xrange(self._stream(lease.conversation), count=count)
        return [_entry(entry, fields) for entry, fields in found]

    async def done(self, lease: Lease, entry: Entry) -> None:
        keys = [self._lease(lease.conversation), self._stream(lease.conversation)]
        if not await self._done(keys=keys, args=[lease.token, entry.id]):
            raise LeaseLost()

    async def save_conversation(self, claim: Claim, conversations: Any, new: NewState) -> None:
        """One MULTI under WATCH of the lease: the lease is read, and the transaction is written
        only if the lease did not change meanwhile (this worker's own renewal counts as a change:
        then it looks again)."""
        conversation = claim.lease.conversation
        lease = self._lease(conversation)
        for _ in range(COMMIT_TRIES):
            async with self._redis.pipeline(transaction=True) as transaction:
                try:
                    await transaction.watch(lease)
                    if as_text(await transaction.get(lease) or "") != claim.lease.token:
                        raise LeaseLost()
                    transaction.multi()
                    transaction.set(conversations.key(new.sender), new.state, ex=new.ttl_s)
                    if new.answered and claim.entry.id:
                        transaction.xdel(self._stream(conversation), claim.entry.id)
                    if new.with_it is not None:
                        await new.with_it.within(transaction)
                    answers = await transaction.execute()
                except WatchError:
                    continue
            if new.with_it is not None:
                new.with_it.committed(answers[-1])
            claim.removed = claim.removed or new.answered
            return
        raise LeaseLost()  # the lease kept changing: it is being fought over, and is not safely ours

    async def release(self, lease: Lease) -> bool:
        keys = [self._lease(lease.conversation), self._stream(lease.conversation), self._ready]
        return int(await self._release(keys=keys, args=[lease.token, lease.conversation])) != 0

    async def hand_back(self, lease: Lease) -> None:
        await self._hand_back(keys=[self._lease(lease.conversation)], args=[lease.token])

    async def forget(self, conversation: str) -> None:
        await self._redis.delete(self._counter(conversation))

    async def orphans(self, now_ms: Optional[int] = None) -> list[str]:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        found = await self._redis.zrangebyscore(self._ready, "-inf", now_ms - ORPHAN_AFTER_MS, 0, SWEEP_BATCH)
        return [as_text(conversation) for conversation in found]


def _entry(entry: str | bytes, fields: dict[Any, Any]) -> Entry:
    return Entry(as_text(entry), _payload(stream_field(fields, "payload")), stream_field(fields, "key"))


def _payload(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# --- memory ----------------------------------------------------------------------------------


@dataclass
class MemoryJournal:
    """The embedded default: one process, so nothing survives it; same order and dedupe rules."""

    _waiting: dict[str, list[Entry]] = field(default_factory=dict)
    _since: dict[str, int] = field(default_factory=dict)
    _leases: dict[str, str] = field(default_factory=dict)
    _seen: dict[str, float] = field(default_factory=dict)
    _next_id: int = 0
    _tokens: dict[str, int] = field(default_factory=dict)

    async def record(self, conversation: str, dedupe_key: str, dedupe_ttl_s: int, payload: dict[str, Any]) -> bool:
        now = time.monotonic()
        if self._seen.get(dedupe_key, 0.0) > now:
            return False
        if len(self._seen) > 100_000:
            self._seen = {key: until for key, until in self._seen.items() if until > now}
        self._seen[dedupe_key] = now + dedupe_ttl_s
        self._next_id += 1
        self._waiting.setdefault(conversation, []).append(Entry(f"{self._next_id}-0", dict(payload), dedupe_key))
        self._since.setdefault(conversation, int(time.time() * 1000))
        return True

    async def take(self, conversation: str) -> Optional[Lease]:
        if conversation in self._leases:
            return None
        self._tokens[conversation] = self._tokens.get(conversation, 0) + 1
        self._leases[conversation] = token = str(self._tokens[conversation])
        return Lease(conversation, token, tuple(self._waiting.get(conversation, [])[:BATCH]))

    async def renew(self, lease: Lease) -> bool:
        return self._leases.get(lease.conversation) == lease.token

    async def entries(self, lease: Lease, count: int = BATCH) -> list[Entry]:
        return list(self._waiting.get(lease.conversation, [])[:count])

    async def done(self, lease: Lease, entry: Entry) -> None:
        if self._leases.get(lease.conversation) != lease.token:
            raise LeaseLost()
        waiting = self._waiting.get(lease.conversation, [])
        if entry in waiting:
            waiting.remove(entry)

    async def save_conversation(self, claim: Claim, conversations: Any, new: NewState) -> None:
        if self._leases.get(claim.lease.conversation) != claim.lease.token:
            raise LeaseLost()
        if new.with_it is not None:
            await new.with_it.alone()
        await conversations.save(new.sender, new.state, new.ttl_s)
        if new.answered:
            await self.done(claim.lease, claim.entry)
            claim.removed = True

    async def release(self, lease: Lease) -> bool:
        if self._leases.get(lease.conversation) != lease.token:
            return True
        if self._waiting.get(lease.conversation):
            return False
        del self._leases[lease.conversation]
        self._waiting.pop(lease.conversation, None)
        self._since.pop(lease.conversation, None)
        return True

    async def hand_back(self, lease: Lease) -> None:
        if self._leases.get(lease.conversation) == lease.token:
            del self._leases[lease.conversation]

    async def forget(self, conversation: str) -> None:
        self._tokens.pop(conversation, None)

    async def orphans(self, now_ms: Optional[int] = None) -> list[str]:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return [c for c, since in self._since.items() if since <= now_ms - ORPHAN_AFTER_MS][:SWEEP_BATCH]


LEASE_POLL_S = 0.02


async def hold_for_request(journal: Journal, conversation: str, wait_s: float) -> Optional[Claim]:
    """The conversation's lease for a turn answered in its own HTTP request (web chat, rest), so its
    state is written under a fencing token like a journalled turn's; waits up to ``wait_s`` while
    another server has the conversation (a page that sent twice, to two servers). None: not had
    in time, the turn goes on unfenced (the child is answered all the same)."""
    deadline = time.monotonic() + wait_s
    while True:
        lease = await journal.take(conversation)
        if lease is not None:
            return Claim(lease, Entry("", {}))
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(LEASE_POLL_S)


# --- working through it ----------------------------------------------------------------------


class Worker:
    """Answers journalled messages: each conversation by one worker at a time, in arrival order.

    ``handle(payload)`` runs one turn, with the turn's :class:`Claim` in ``CLAIM``; the channel
    that recorded the payload decides what that means (``handlers`` maps the payload's ``channel``
    to it). Then ``finish(claim)`` ends the turn (by default: removes the message; the channels
    first queue the turn's replies). A turn that raises is logged and its message removed all the
    same: the channel's own fail-safe has already answered the child, and a message that crashes
    every server must not block the conversation forever. A turn whose lease was lost ends the
    worker's work on that conversation: its new owner answers the message.
    """

    def __init__(
        self, journal: Journal, renew_every_s: float = LEASE_MS / 3000, gate: Optional[TurnGate] = None
    ) -> None:
        """``renew_every_s``: well within the journal's lease, so a live worker never loses it;
        ``gate``: how many turns run at once, a message recorded ``urgent`` first (none: no limit)."""
        self.journal = journal
        self.gate = gate or TurnGate(1_000_000)
        self._renew_every_s = renew_every_s
        self.handlers: dict[str, Handler] = {}
        self.finish: Callable[[Claim], Awaitable[None]] = self._remove
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()  # started again while being drained
        self._stopping = False
        self._handed_back = 0

    @property
    def stopping(self) -> bool:
        """Told to stop: takes no more conversations."""
        return self._stopping

    def start(self, conversation: str) -> None:
        """Answer the conversation's messages now, unless this process already is (then it looks
        once more before it lets go: the message may have come just after it last looked)."""
        if self._stopping:
            return
        if conversation in self._draining:
            self._again.add(conversation)
            return
        self._draining[conversation] = asyncio.get_running_loop().create_task(self._drain(conversation))

    async def sweep(self) -> int:
        """Take over conversations whose messages wait with nobody answering (a server died);
        returns how many this process started on."""
        started = 0
        for conversation in await self.journal.orphans():
            if conversation not in self._draining and not self._stopping:
                self.start(conversation)
                started += 1
        return started

    async def _drain(self, conversation: str) -> None:
        try:
            while True:
                self._again.discard(conversation)
                await self._answer(conversation)
                if conversation not in self._again or self._stopping:
                    return
        finally:
            # At once, not in a done callback: one runs a loop turn later, and a message recorded in
            # between would only mark this finished drain to look again, then wait for the sweep.
            if self._draining.get(conversation) is asyncio.current_task():
                del self._draining[conversation]

    async def _answer(self, conversation: str) -> None:
        try:
            lease = await self.journal.take(conversation)
        except Exception as error:  # noqa: BLE001 - the sweep tries again later
            logger.error("could not take a conversation's lease (%s)", type(error).__name__)
            return
        if lease is None:
            return  # another worker has it, and will answer what was just recorded before it lets go
        renewing = asyncio.get_running_loop().create_task(self._keep(lease))
        entries: Optional[list[Entry]] = list(lease.waiting)  # read with the lease
        try:
            while not self._stopping:
                if entries is None:
                    entries = await self.journal.entries(lease)
                for entry in entries:
                    if str(entry.payload.get("channel")) not in self.handlers:
                        raise NotHere(str(entry.payload.get("channel")))
                    claim = Claim(lease, entry)
                    async with self.gate.slot(urgent=bool(entry.payload.get("urgent"))):
                        await self._turn(claim)
                        await self.finish(claim)
                    if self._stopping:
                        break
                entries = None
                if not self._stopping and await self.journal.release(lease):
                    return  # nothing more waited (else it goes on with what came meanwhile)
        except LeaseLost:
            logger.error("a conversation's lease lapsed mid-turn: its new owner answers the message")
            return
        except NotHere as error:  # left in the journal, for a server that runs the channel
            logger.error("a recorded message for channel %r, which this server does not run: left to another", error)
            await self.journal.hand_back(lease)
            return
        except Exception as error:  # noqa: BLE001 - the lease lapses and another worker goes on
            logger.error("answering journalled messages stopped (%s)", type(error).__name__)
        finally:
            renewing.cancel()
            if self._stopping:
                await self._leave(lease)

    async def _leave(self, lease: Lease) -> None:
        """Stopping: let the conversation go, to another server if messages still wait."""
        try:
            if not await self.journal.release(lease):
                await self.journal.hand_back(lease)
                self._handed_back += 1
        except Exception as error:  # noqa: BLE001 - then the lease lapses by itself
            logger.warning("could not hand a conversation back (%s)", type(error).__name__)

    async def _remove(self, claim: Claim) -> None:
        if not claim.removed:
            await self.journal.done(claim.lease, claim.entry)

    async def _turn(self, claim: Claim) -> None:
        payload = claim.entry.payload
        handle = self.handlers[str(payload.get("channel"))]
        claimed = CLAIM.set(claim)
        try:
            await handle(payload)
        except LeaseLost:
            raise
        except Exception as error:  # noqa: BLE001 - see the class docstring
            logger.error("a recorded %s turn failed (%s)", payload.get("channel"), type(error).__name__)
        finally:
            CLAIM.reset(claimed)

    async def _keep(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self._renew_every_s)
            try:
                if not await self.journal.renew(lease):
                    logger.error("a conversation's lease was lost while answering it")
                    return
            except Exception as error:  # noqa: BLE001 - retried at the next beat
                logger.warning("renewing a conversation's lease failed (%s)", type(error).__name__)

    async def stop(self, limit_s: float) -> int:
        """Stop taking conversations; let the turns under way finish within ``limit_s`` (those
        past it are cut). What is left stays in the journal for another server. Returns how many
        conversations were handed back with messages still waiting."""
        self._stopping = True
        running = list(self._draining.values())
        if running:
            _, late = await asyncio.wait(running, timeout=limit_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)  # each hands its conversation back
        return self._handed_back
