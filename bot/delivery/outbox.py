"""The outbox: every message the server sends a child on its own, kept until it is sent.

A counsellor's reply, a waiting-time notice, "the counsellor has closed the conversation": each
is queued here first, in one atomic step with its place in the ticket's conversation (so the
counsellor sees it and its state) and its idempotency key (so a double click, or a request retried
after a crash, queues it once). Senders (bot.delivery.sender) then take it from a Redis stream
read by a consumer group, one entry per message, and acknowledge it only once it is sent or
failed for good: a sender that dies leaves its entries pending, and another takes them over
(``XAUTOCLAIM``) after an idle time.

Order per child: each message gets the next number of its conversation, and only the lowest
unsent number of a conversation (its "lane") may be sent, by whoever holds the conversation's
short lease, so message n+1 never overtakes n, and two senders never write to one child at once.
"Sent" is recorded together with the acknowledgement and the lane's advance, atomically, so a
message recorded sent is never sent again; only a sender that dies between the API's answer and
that record can send one message twice (at least once, never lost).

States: queued (with "trying again" and the last failure while retries go on), sent (the API took
it), delivered (Twilio's status callback said so), failed (with the counsellor's reason). Each
change of a ticket's message is announced on its helpline's event stream as a ``delivery`` event.
Once a message is sent or failed its text is removed: only its state is kept, for ``KEEP_S``.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Optional, Protocol, Sequence

from redis.exceptions import ResponseError

from bot.delivery.attempt import Attempt, Outcome
from bot.storage.stores import RedisClient, as_text, stream_field

GROUP = "senders"
KEEP_S = 7 * 24 * 3600  # a message's state (never its text) after it was sent or failed
KEY_KEPT_S = 24 * 3600  # an idempotency key: far longer than any retry of one request
EARLY_KEPT_S = 3600  # a delivery report that came before we noted the message sent
EVENTS_KEPT = 10_000  # as bot.handoff.queue's
READ_COUNT = 50
MEMORY_KEPT = 10_000  # the memory outbox's sent and failed messages whose state it keeps
Button = tuple[str, str]  # (title, payload)


class State(str, enum.Enum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Message:
    """What to send, to whom (a hashed sender id: the transport finds the address), on which channel."""

    conversation: str
    channel: str
    text: str
    buttons: tuple[Button, ...] = ()
    key: str = ""  # idempotency key, per conversation; empty: a fresh one


@dataclass(frozen=True)
class Transcript:
    """A ticket's conversation the message is written into, as ``author``, and whose helpline is
    told of its states. On Redis, ``log`` and ``events`` are the streams (bot.handoff.queue's)."""

    ticket: str
    author: str
    helpline: str
    log: str = ""
    events: str = ""


@dataclass(frozen=True)
class Queued:
    id: str
    new: bool  # False: the key was queued before, nothing was added
    entry: str = ""  # its place in the ticket's conversation


@dataclass(frozen=True)
class Status:
    state: State
    reason: str = ""  # failed: why (for the counsellor); queued: the last failure while retrying
    attempts: int = 0


@dataclass(frozen=True)
class Pending:
    """An outbox entry handed to a sender, not yet acknowledged."""

    entry: str
    message: str
    conversation: str
    channel: str
    seq: int


class Go(str, enum.Enum):
    GO = "go"  # the lease is ours: send it now
    WAIT = "wait"  # an earlier message of the child is not sent yet
    BUSY = "busy"  # another sender is writing to this child right now
    DONE = "done"  # sent, failed or erased already: just acknowledge


@dataclass(frozen=True)
class Begun:
    go: Go
    token: str = ""
    message: Optional[Message] = None
    created_at: float = 0.0
    attempts: int = 0
    head_due: float = 0.0  # WAIT: when the earlier message is next tried (Unix time; 0: now)


class Transcripts(Protocol):
    """The in-memory handoff queue's conversations, which the memory outbox writes into."""

    async def write(self, transcript: Transcript, text: str, delivery: str) -> str:
        """Add the message to the ticket's conversation; its entry there."""

    async def announce(self, transcript: Transcript, entry: str) -> None:
        """Tell the helpline the message's state changed."""


class Outbox(Protocol):
    async def enqueue(self, message: Message, transcript: Optional[Transcript] = None) -> Queued:
        """Queue ``message`` (and write it into ``transcript``), unless its key was queued already."""

    async def enqueue_replies(self, messages: Sequence[Message], consumer: str) -> list[Pending]:
        """Queue a turn's replies to one child (each once per key), in order, and hand them to
        ``consumer`` at once (with any other new entry), so the server that answered sends them."""

    async def status(self, ids: Sequence[str]) -> dict[str, Status]:
        """The state of each message still known (others are left out)."""

    async def read(self, consumer: str, block_ms: int, count: int = READ_COUNT) -> list[Pending]:
        """New entries for ``consumer``, waiting up to ``block_ms`` for the first."""

    async def own(self, consumer: str) -> list[Pending]:
        """The entries ``consumer`` took and did not acknowledge (a restart under a stable name)."""

    async def reclaim(self, consumer: str, idle_ms: int) -> list[Pending]:
        """Take over entries no sender has touched for ``idle_ms`` (their sender died)."""

    async def keep(self, consumer: str, entries: Sequence[str]) -> set[str]:
        """Tell that ``consumer`` is still working on ``entries``; those it still holds."""

    async def hand_back(self, consumer: str, idle_ms: int) -> int:
        """Let another sender take every entry of ``consumer`` at once (shutting down)."""

    async def prune(self, idle_ms: int) -> int:
        """Forget senders that hold nothing and have not read for ``idle_ms`` (restarted servers'
        old names); how many."""

    async def begin(self, pending: Pending, lease_ms: int) -> Begun:
        """Take the child's lease to send ``pending`` now, if it is the child's next message."""

    async def release(self, pending: Pending, token: str) -> None:
        """Give the child's lease back without a result (the attempt was cut short)."""

    async def finish(self, pending: Pending, token: str, attempt: Attempt, next_at: float = 0.0) -> None:
        """Record an attempt: sent or refused ends the message (acknowledged, lane moves on);
        retry keeps it pending until ``next_at``. The lease is given back."""

    async def drop(self, pending: Pending) -> None:
        """Acknowledge an entry whose message is done or gone."""

    async def report(self, receipt: str, state: State, reason: str = "") -> bool:
        """The provider's delivery report for one of its ids: delivered, or failed with a reason.
        False when the id is not (yet) known; it is then kept a while for when it is."""

    async def forget(self, conversation: str) -> None:
        """Erase every message and state of the conversation (the child asked)."""


def _new_id() -> str:
    return uuid.uuid4().hex


def _buttons(raw: str) -> tuple[Button, ...]:
    try:
        return tuple((str(title), str(payload)) for title, payload in json.loads(raw or "[]"))
    except (ValueError, TypeError):
        return ()


# --- Redis -----------------------------------------------------------------------------------

# KEYS: idempotency key, sequence, message, lane, stream, the conversation's ids [, log, events]
# ARGV: id, conversation, channel, text, buttons, key, created_at, ticket, author, key ttl, events kept, keep s
_ENQUEUE = """
local found = redis.call('GET', KEYS[1])
if found then
  local known = string.sub(KEYS[3], 1, #KEYS[3] - #ARGV[1]) .. found
  return {found, 0, redis.call('HGET', known, 'entry') or ''}
end
local seq = redis.call('INCR', KEYS[2])
local entry = ''
local events = ''
if #KEYS >= 8 then
  entry = redis.call('XADD', KEYS[7], '*', 'author', ARGV[9], 'text', ARGV[4], 'delivery', ARGV[1])
  redis.call('XADD', KEYS[8], 'MAXLEN', '~', ARGV[11], '*', 'kind', 'message', 'ticket', ARGV[8], 'entry', entry)
  events = KEYS[8]
end
redis.call('HSET', KEYS[3], 'conversation', ARGV[2], 'channel', ARGV[3], 'text', ARGV[4], 'buttons', ARGV[5],
  'key', ARGV[6], 'seq', seq, 'state', 'queued', 'reason', '', 'created_at', ARGV[7], 'attempts', 0,
  'next_at', 0, 'ticket', ARGV[8], 'entry', entry, 'events', events)
redis.call('ZADD', KEYS[4], seq, ARGV[1])
redis.call('SADD', KEYS[6], ARGV[1])
redis.call('XADD', KEYS[5], '*', 'message', ARGV[1], 'conversation', ARGV[2], 'channel', ARGV[3], 'seq', seq)
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[10])
for _, name in ipairs({KEYS[2], KEYS[4], KEYS[6]}) do redis.call('EXPIRE', name, ARGV[12]) end
return {ARGV[1], 1, entry}
"""
# A turn's replies to one child, then read for the consumer that answered (any new entry it gets is
# its own to send). KEYS: stream, sequence, lane, the conversation's ids, then per message its
# idempotency key and its hash. ARGV: group, consumer, conversation, channel, created_at, key ttl,
# keep s, then per message: id, text, buttons, key.
_ENQUEUE_REPLIES = """
local added = 0
for i = 0, (#KEYS - 4) / 2 - 1 do
  local key, message = KEYS[5 + 2 * i], KEYS[6 + 2 * i]
  local id, text, buttons, mkey = ARGV[8 + 4 * i], ARGV[9 + 4 * i], ARGV[10 + 4 * i], ARGV[11 + 4 * i]
  if not redis.call('GET', key) then
    local seq = redis.call('INCR', KEYS[2])
    redis.call('HSET', message, 'conversation', ARGV[3], 'channel', ARGV[4], 'text', text, 'buttons', buttons,
      'key', mkey, 'seq', seq, 'state', 'queued', 'reason', '', 'created_at', ARGV[5], 'attempts', 0,
      'next_at', 0, 'ticket', '', 'entry', '', 'events', '')
    redis.call('ZADD', KEYS[3], seq, id)
    redis.call('SADD', KEYS[4], id)
    redis.call('XADD', KEYS[1], '*', 'message', id, 'conversation', ARGV[3], 'channel', ARGV[4], 'seq', seq)
    redis.call('SET', key, id, 'EX', ARGV[6])
    added = added + 1
  end
end
if added == 0 then return {} end
for _, name in ipairs({KEYS[2], KEYS[3], KEYS[4]}) do redis.call('EXPIRE', name, ARGV[7]) end
local got = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', added, 'STREAMS', KEYS[1], '>')
if not got then return {} end
return got[1][2]
"""
# KEYS: message, lane, lease; ARGV: id, token, lease ms
_BEGIN = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return {'done'} end
local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if not head then return {'done'} end
if head ~= ARGV[1] then return {'wait', head} end
if not redis.call('SET', KEYS[3], ARGV[2], 'NX', 'PX', ARGV[3]) then return {'busy'} end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local m = redis.call('HMGET', KEYS[1], 'text', 'buttons', 'created_at', 'key')
return {'go', m[1], m[2], m[3], m[4], attempts}
"""
# Announce a message's new state on its helpline's stream (a ticket's messages only). ARGV[1]: events kept
_ANNOUNCE = """
local function announce(message, kept)
  local info = redis.call('HMGET', message, 'events', 'ticket', 'entry')
  if info[1] and info[1] ~= '' then
    redis.call('XADD', info[1], 'MAXLEN', '~', kept, '*', 'kind', 'delivery', 'ticket', info[2], 'entry', info[3])
  end
end
"""
# KEYS: message, lane, lease, stream, then one key per receipt, then its early report's key, in the same
# order; ARGV: events kept, id, token, entry, group, state, reason, now, keep s, receipts (space-separated).
# Returns, per receipt, the delivery report that came before this record ('' if none), taken away.
_DONE = (
    _ANNOUNCE
    + """
local count = (#KEYS - 4) / 2
if redis.call('HGET', KEYS[1], 'state') == 'queued' then
  redis.call('HSET', KEYS[1], 'state', ARGV[6], 'reason', ARGV[7], 'done_at', ARGV[8], 'receipts', ARGV[10],
    'parts', count)
  redis.call('HDEL', KEYS[1], 'text', 'buttons')
  redis.call('EXPIRE', KEYS[1], ARGV[9])
  for i = 5, 4 + count do redis.call('SET', KEYS[i], ARGV[2], 'EX', ARGV[9]) end
  announce(KEYS[1], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('XACK', KEYS[4], ARGV[5], ARGV[4])
redis.call('XDEL', KEYS[4], ARGV[4])
if redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
local early = {}
for i = 5 + count, #KEYS do
  early[#early + 1] = redis.call('GET', KEYS[i]) or ''
  redis.call('DEL', KEYS[i])
end
return early
"""
)
# KEYS: message, lease; ARGV: events kept, token, next_at, reason
_RETRY = (
    _ANNOUNCE
    + """
if redis.call('HGET', KEYS[1], 'state') == 'queued' then
  local before = redis.call('HGET', KEYS[1], 'reason')
  redis.call('HSET', KEYS[1], 'next_at', ARGV[3], 'reason', ARGV[4])
  if before == '' then announce(KEYS[1], ARGV[1]) end
end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1
"""
)
# KEYS: lease; ARGV: token
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""
# KEYS: message, the receipts reported delivered; ARGV: events kept, receipt, state, reason, keep s.
# Only a sent message changes: delivered once every part is, failed as soon as one part is.
_REPORT = (
    _ANNOUNCE
    + """
if redis.call('HGET', KEYS[1], 'state') ~= 'sent' then return 0 end
if ARGV[3] == 'delivered' then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  if redis.call('SCARD', KEYS[2]) < tonumber(redis.call('HGET', KEYS[1], 'parts') or '1') then return 0 end
end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'reason', ARGV[4])
announce(KEYS[1], ARGV[1])
return 1
"""
)
# KEYS: stream; ARGV: group, consumer, entry ids. Resets the idle time of the entries the consumer still
# holds (another may have claimed some meanwhile: those are left to it); returns those.
_KEEP = """
local kept = {}
for i = 3, #ARGV do
  local found = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if found[1] and found[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    table.insert(kept, ARGV[i])
  end
end
return kept
"""

# KEYS: stream; ARGV: group, idle ms. Deletes the consumers holding nothing that were idle longer.
_PRUNE = """
local gone = 0
for _, fields in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local c = {}
  for i = 1, #fields, 2 do c[fields[i]] = fields[i + 1] end
  if c['pending'] == 0 and c['idle'] > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], c['name'])
    gone = gone + 1
  end
end
return gone
"""


class RedisOutbox:
    """The outbox on Redis, shared by every server and the console (see the module's docstring).

    Keys under ``prefix`` (the handoff queue's, ``<HELPLINE_REDIS_PREFIX>handoff:``): ``outbox``
    (the stream), ``outbox:msg:<id>``, ``outbox:lane:<conversation>`` (its unsent messages by
    number), ``outbox:seq:``, ``outbox:lease:``, ``outbox:of:`` (every message, for erasure) and
    ``outbox:key:<conversation>:<key>``, ``outbox:receipt:<provider id>``.
    """

    def __init__(
        self,
        client: RedisClient,
        prefix: str,
        blocking: Optional[RedisClient] = None,
        events_kept: int = EVENTS_KEPT,
    ) -> None:
        """``blocking``: the client for reads that wait (its time limit allows for the wait)."""
        self._redis, self._prefix, self._blocking = client, prefix, blocking or client
        self._events_kept = events_kept
        self._group_made = False
        self._enqueue = client.register_script(_ENQUEUE)
        self._enqueue_replies = client.register_script(_ENQUEUE_REPLIES)
        self._begin = client.register_script(_BEGIN)
        self._done = client.register_script(_DONE)
        self._retry = client.register_script(_RETRY)
        self._release = client.register_script(_RELEASE)
        self._report = client.register_script(_REPORT)
        self._keep = client.register_script(_KEEP)
        self._prune = client.register_script(_PRUNE)

    @property
    def stream(self) -> str:
        return f"{self._prefix}outbox"

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}outbox:{kind}:{name}"

    async def enqueue(self, message: Message, transcript: Optional[Transcript] = None) -> Queued:
        new_id = _new_id()
        key = message.key or new_id
        conversation = message.conversation
        keys = [
            self._key("key", f"{conversation}:{key}"),
            self._key("seq", conversation),
            self._key("msg", new_id),
            self._key("lane", conversation),
            self.stream,
            self._key("of", conversation),
        ]
        if transcript is not None:
            keys += [transcript.log, transcript.events]
        args: list[str | int | float] = [
            new_id,
            conversation,
            message.channel,
            message.text,
            json.dumps(message.buttons, ensure_ascii=False),
            key,
            time.time(),
            transcript.ticket if transcript else "",
            transcript.author if transcript else "",
            KEY_KEPT_S,
            self._events_kept,
            KEEP_S,
        ]
        found, new, entry = await self._enqueue(keys=keys, args=args)
        return Queued(as_text(found), bool(int(new)), as_text(entry))

    async def enqueue_replies(self, messages: Sequence[Message], consumer: str) -> list[Pending]:
        if not messages:
            return []
        await self._group()
        try:
            entries = await self._enqueue_replies(*self._replies_call(messages, consumer))
        except ResponseError as error:
            if "NOGROUP" in str(error):  # a Redis restarted without its data: the group is made again next time
                self._group_made = False
            raise
        return self.replies_taken(entries)

    async def enqueue_replies_in(self, transaction: Any, messages: Sequence[Message], consumer: str) -> None:
        """Add :meth:`enqueue_replies` to ``transaction`` (a Redis pipeline after MULTI), so the
        replies are queued only if, and when, the rest of it is written: a turn's replies go with
        its conversation's new state (bot.storage.inbound). Its answer, read by
        :meth:`replies_taken`, is the transaction's last."""
        await self._group()
        await self._enqueue_replies(*self._replies_call(messages, consumer), client=transaction)

    def replies_taken(self, entries: Any) -> list[Pending]:
        """The entries the enqueue script read for the consumer (a script returns an entry's fields
        as a flat list: paired here as the client does)."""
        return self._pending([(entry, dict(zip(fields[::2], fields[1::2], strict=True))) for entry, fields in entries])

    def _replies_call(self, messages: Sequence[Message], consumer: str) -> tuple[list[str], list[str | int | float]]:
        """The enqueue script's keys and arguments for one child's ``messages``."""
        conversation, channel = messages[0].conversation, messages[0].channel
        keys = [
            self.stream,
            self._key("seq", conversation),
            self._key("lane", conversation),
            self._key("of", conversation),
        ]
        args: list[str | int | float] = [GROUP, consumer, conversation, channel, time.time(), KEY_KEPT_S, KEEP_S]
        for message in messages:
            new_id = _new_id()
            key = message.key or new_id
            keys += [self._key("key", f"{conversation}:{key}"), self._key("msg", new_id)]
            args += [new_id, message.text, json.dumps(message.buttons, ensure_ascii=False), key]
        return keys, args

    async def status(self, ids: Sequence[str]) -> dict[str, Status]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for message in ids:
                pipe.hmget(self._key("msg", message), ["state", "reason", "attempts"])
            answers = await pipe.execute()
        return {
            message: Status(State(as_text(state)), as_text(reason or ""), int(attempts or 0))
            for message, (state, reason, attempts) in zip(ids, answers, strict=True)
            if state
        }

    async def _group(self) -> None:
        if not self._group_made:
            try:
                await self._redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
            self._group_made = True

    def _pending(self, entries: Sequence[Any]) -> list[Pending]:
        found = []
        for entry, fields in entries:
            if not fields:  # deleted meanwhile: nothing to do but acknowledge (see _gone)
                found.append(Pending(as_text(entry), "", "", "", 0))
                continue
            found.append(
                Pending(
                    as_text(entry),
                    stream_field(fields, "message"),
                    stream_field(fields, "conversation"),
                    stream_field(fields, "channel"),
                    int(stream_field(fields, "seq") or 0),
                )
            )
        return found

    async def read(self, consumer: str, block_ms: int, count: int = READ_COUNT) -> list[Pending]:
        await self._group()
        try:
            answer = await self._blocking.xreadgroup(
                GROUP, consumer, {self.stream: ">"}, count=count, block=block_ms or None
            )
        except ResponseError as error:
            if "NOGROUP" in str(error):  # a Redis restarted without its data: the group is made again next time
                self._group_made = False
            raise
        return [p for _, entries in answer or [] for p in self._pending(entries)]

    async def own(self, consumer: str) -> list[Pending]:
        await self._group()
        answer = await self._redis.xreadgroup(GROUP, consumer, {self.stream: "0"}, count=10_000)
        return [p for _, entries in answer or [] for p in self._pending(entries)]

    async def reclaim(self, consumer: str, idle_ms: int) -> list[Pending]:
        await self._group()
        found: list[Pending] = []
        start = "0-0"
        for _ in range(100):  # at most 10,000 entries a round
            answer = await self._redis.xautoclaim(self.stream, GROUP, consumer, idle_ms, start, count=100)
            start, entries = as_text(answer[0]), answer[1]
            found += self._pending(entries)  # (entries deleted meanwhile leave the pending list by themselves)
            if start == "0-0":
                break
        return found

    async def keep(self, consumer: str, entries: Sequence[str]) -> set[str]:
        if not entries:
            return set()
        kept = await self._keep(keys=[self.stream], args=[GROUP, consumer, *entries])
        return {as_text(entry) for entry in kept}

    async def hand_back(self, consumer: str, idle_ms: int) -> int:
        await self._group()
        mine = await self._redis.xpending_range(self.stream, GROUP, "-", "+", 10_000, consumername=consumer)
        ids = [as_text(item["message_id"]) for item in mine]
        if ids:
            # still ours, but idle as if left for good: the other senders' next claim takes them
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xclaim(self.stream, GROUP, consumer, 0, ids, idle=idle_ms, justid=True)
                await pipe.execute()
        return len(ids)

    async def prune(self, idle_ms: int) -> int:
        await self._group()
        return int(await self._prune(keys=[self.stream], args=[GROUP, idle_ms]))

    async def begin(self, pending: Pending, lease_ms: int) -> Begun:
        token = secrets.token_hex(16)
        keys = [
            self._key("msg", pending.message),
            self._key("lane", pending.conversation),
            self._key("lease", pending.conversation),
        ]
        answer = [as_text(part) for part in await self._begin(keys=keys, args=[pending.message, token, lease_ms])]
        go = Go(answer[0])
        if go is Go.WAIT:
            head_due = await self._redis.hget(self._key("msg", answer[1]), "next_at")
            return Begun(go, head_due=float(head_due or 0))
        if go is not Go.GO:
            return Begun(go)
        text, buttons, created_at, key, attempts = answer[1:]
        message = Message(pending.conversation, pending.channel, text, _buttons(buttons), key)
        return Begun(go, token, message, float(created_at), int(attempts))

    async def release(self, pending: Pending, token: str) -> None:
        await self._release(keys=[self._key("lease", pending.conversation)], args=[token])

    async def finish(self, pending: Pending, token: str, attempt: Attempt, next_at: float = 0.0) -> None:
        message = self._key("msg", pending.message)
        lease = self._key("lease", pending.conversation)
        if attempt.outcome is Outcome.RETRY:
            await self._retry(keys=[message, lease], args=[self._events_kept, token, next_at, attempt.reason])
            return
        state = State.SENT if attempt.outcome is Outcome.SENT else State.FAILED
        keys = [message, self._key("lane", pending.conversation), lease, self.stream]
        keys += [self._key("receipt", receipt) for receipt in attempt.receipts]
        keys += [self._key("early", receipt) for receipt in attempt.receipts]
        args: list[str | int | float] = [
            self._events_kept,
            pending.message,
            token,
            pending.entry,
            GROUP,
            state.value,
            attempt.reason if state is State.FAILED else "",
            time.time(),
            KEEP_S,
            " ".join(attempt.receipts),
        ]
        early = await self._done(keys=keys, args=args)
        for receipt, report in zip(attempt.receipts, early, strict=True):  # reports that came before this record
            if report:
                state_name, _, reason = as_text(report).partition("|")
                await self.report(receipt, State(state_name), reason)

    async def drop(self, pending: Pending) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, GROUP, pending.entry)
            pipe.xdel(self.stream, pending.entry)
            await pipe.execute()

    async def report(self, receipt: str, state: State, reason: str = "") -> bool:
        message = await self._redis.get(self._key("receipt", receipt))
        if not message:
            await self._redis.set(self._key("early", receipt), f"{state.value}|{reason}", ex=EARLY_KEPT_S)
            return False
        keys = [self._key("msg", as_text(message)), self._key("got", as_text(message))]
        await self._report(keys=keys, args=[self._events_kept, receipt, state.value, reason, KEEP_S])
        return True

    async def forget(self, conversation: str) -> None:
        of = self._key("of", conversation)
        ids = [as_text(message) for message in await self._redis.smembers(of)]
        names = [of, self._key("lane", conversation), self._key("seq", conversation), self._key("lease", conversation)]
        for message in ids:
            key, receipts = await self._redis.hmget(self._key("msg", message), ["key", "receipts"])
            names += [self._key("msg", message), self._key("got", message)]
            if key:
                names.append(self._key("key", f"{conversation}:{as_text(key)}"))
            names += [self._key("receipt", r) for r in as_text(receipts or "").split()]
        await self._redis.delete(*names)


# --- memory ----------------------------------------------------------------------------------


@dataclass
class _Record:
    message: Message
    seq: int
    created_at: float
    transcript: Optional[Transcript]
    entry: str
    state: State = State.QUEUED
    reason: str = ""
    attempts: int = 0
    next_at: float = 0.0
    receipts: tuple[str, ...] = ()
    delivered: set[str] = field(default_factory=set)


@dataclass
class _Entry:
    pending: Pending
    owner: str = ""
    touched: float = 0.0  # time.monotonic() when last read, claimed or kept


class MemoryOutbox:
    """The embedded default: one process, nothing survives it; the same order, lease, dedupe and
    states, and entries a sender left are taken over after the idle time as on Redis."""

    def __init__(self, transcripts: Optional[Transcripts] = None) -> None:
        self.transcripts = transcripts
        self._records: dict[str, _Record] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._seq: dict[str, int] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._entries: dict[str, _Entry] = {}
        self._receipts: dict[str, str] = {}
        self._early: dict[str, tuple[State, str]] = {}
        self._numbers = itertools.count(1)
        self._new = asyncio.Condition()
        self._lanes: dict[str, dict[str, int]] = {}  # per child: unsent message -> its number
        self._finished: dict[str, None] = {}  # sent or failed, oldest first: forgotten past MEMORY_KEPT

    async def enqueue(self, message: Message, transcript: Optional[Transcript] = None) -> Queued:
        new_id = _new_id()
        key = (message.conversation, message.key or new_id)
        if key in self._keys:
            found = self._keys[key]
            record = self._records.get(found)
            return Queued(found, False, record.entry if record else "")
        self._keys[key] = new_id
        entry = ""
        if transcript is not None and self.transcripts is not None:
            entry = await self.transcripts.write(transcript, message.text, new_id)
        seq = self._seq[message.conversation] = self._seq.get(message.conversation, 0) + 1
        self._records[new_id] = _Record(replace(message, key=key[1]), seq, time.time(), transcript, entry)
        self._lanes.setdefault(message.conversation, {})[new_id] = seq
        number = f"{next(self._numbers)}-0"
        self._entries[number] = _Entry(Pending(number, new_id, message.conversation, message.channel, seq))
        async with self._new:
            self._new.notify_all()
        return Queued(new_id, True, entry)

    async def enqueue_replies(self, messages: Sequence[Message], consumer: str) -> list[Pending]:
        before = set(self._entries)
        for message in messages:
            await self.enqueue(message)
        return self._take(consumer, [i for n, i in self._entries.items() if n not in before and not i.owner])

    async def status(self, ids: Sequence[str]) -> dict[str, Status]:
        return {
            i: Status(self._records[i].state, self._records[i].reason, self._records[i].attempts)
            for i in ids
            if i in self._records
        }

    def _take(self, consumer: str, which: list[_Entry]) -> list[Pending]:
        now = time.monotonic()
        for item in which:
            item.owner, item.touched = consumer, now
        return [item.pending for item in which]

    async def read(self, consumer: str, block_ms: int, count: int = READ_COUNT) -> list[Pending]:
        def fresh() -> list[_Entry]:
            return [item for item in self._entries.values() if not item.owner][:count]

        if not fresh() and block_ms:
            async with self._new:
                try:
                    await asyncio.wait_for(self._new.wait_for(lambda: bool(fresh())), block_ms / 1000)
                except asyncio.TimeoutError:
                    pass
        return self._take(consumer, fresh())

    async def own(self, consumer: str) -> list[Pending]:
        return [item.pending for item in self._entries.values() if item.owner == consumer]

    async def reclaim(self, consumer: str, idle_ms: int) -> list[Pending]:
        cut = time.monotonic() - idle_ms / 1000
        return self._take(consumer, [i for i in self._entries.values() if i.owner and i.touched <= cut])

    async def keep(self, consumer: str, entries: Sequence[str]) -> set[str]:
        mine = [self._entries[e] for e in entries if e in self._entries and self._entries[e].owner == consumer]
        return {p.entry for p in self._take(consumer, mine)}

    async def hand_back(self, consumer: str, idle_ms: int) -> int:
        mine = [item for item in self._entries.values() if item.owner == consumer]
        for item in mine:
            item.touched = time.monotonic() - idle_ms / 1000
        return len(mine)

    async def prune(self, idle_ms: int) -> int:
        return 0  # no names to forget: entries only note their sender

    def _head(self, conversation: str) -> Optional[str]:
        lane = self._lanes.get(conversation)
        return min(lane, key=lane.__getitem__) if lane else None

    def _done(self, message: str, record: _Record) -> None:
        """Off the child's lane; the oldest finished states are forgotten past MEMORY_KEPT (every
        bot reply passes through here: a long-running local bot must not grow without end)."""
        lane = self._lanes.get(record.message.conversation, {})
        lane.pop(message, None)
        if not lane:
            self._lanes.pop(record.message.conversation, None)
        self._finished[message] = None
        while len(self._finished) > MEMORY_KEPT:
            old = next(iter(self._finished))
            del self._finished[old]
            gone = self._records.pop(old, None)
            if gone is not None:
                self._keys.pop((gone.message.conversation, gone.message.key), None)
                for receipt in gone.receipts:
                    self._receipts.pop(receipt, None)

    async def begin(self, pending: Pending, lease_ms: int) -> Begun:
        record = self._records.get(pending.message)
        if record is None or record.state is not State.QUEUED:
            return Begun(Go.DONE)
        head = self._head(pending.conversation)
        if head != pending.message:
            return Begun(Go.WAIT, head_due=self._records[head].next_at if head else 0.0)
        holder = self._leases.get(pending.conversation)
        if holder and holder[1] > time.monotonic():
            return Begun(Go.BUSY)
        token = secrets.token_hex(16)
        self._leases[pending.conversation] = (token, time.monotonic() + lease_ms / 1000)
        record.attempts += 1
        return Begun(Go.GO, token, record.message, record.created_at, record.attempts)

    async def release(self, pending: Pending, token: str) -> None:
        if self._leases.get(pending.conversation, ("",))[0] == token:
            del self._leases[pending.conversation]

    async def _announce(self, record: _Record) -> None:
        if record.transcript is not None and self.transcripts is not None:
            await self.transcripts.announce(record.transcript, record.entry)

    async def finish(self, pending: Pending, token: str, attempt: Attempt, next_at: float = 0.0) -> None:
        record = self._records.get(pending.message)
        await self.release(pending, token)
        if record is None or record.state is not State.QUEUED:
            self._entries.pop(pending.entry, None)
            return
        if attempt.outcome is Outcome.RETRY:
            first = not record.reason
            record.next_at, record.reason = next_at, attempt.reason
            if first:
                await self._announce(record)
            return
        self._entries.pop(pending.entry, None)
        self._done(pending.message, record)
        sent = attempt.outcome is Outcome.SENT
        record.state, record.reason = (State.SENT, "") if sent else (State.FAILED, attempt.reason)
        record.receipts = attempt.receipts
        record.message = replace(record.message, text="", buttons=())  # sent or failed: its words are not kept
        for receipt in attempt.receipts:
            self._receipts[receipt] = pending.message
        await self._announce(record)
        for receipt in attempt.receipts:
            if receipt in self._early:
                await self.report(receipt, *self._early.pop(receipt))

    async def drop(self, pending: Pending) -> None:
        self._entries.pop(pending.entry, None)

    async def report(self, receipt: str, state: State, reason: str = "") -> bool:
        record = self._records.get(self._receipts.get(receipt, ""))
        if record is None:
            self._early[receipt] = (state, reason)
            if len(self._early) > MEMORY_KEPT:  # reports of messages long forgotten
                del self._early[next(iter(self._early))]
            return False
        if record.state is not State.SENT:
            return True
        if state is State.DELIVERED:
            record.delivered.add(receipt)
            if len(record.delivered) < len(record.receipts):
                return True
        record.state, record.reason = state, reason
        await self._announce(record)
        return True

    async def forget(self, conversation: str) -> None:
        mine = {i for i, r in self._records.items() if r.message.conversation == conversation}
        for message in mine:
            del self._records[message]
        self._keys = {k: v for k, v in self._keys.items() if k[0] != conversation}
        self._receipts = {k: v for k, v in self._receipts.items() if v not in mine}
        self._seq.pop(conversation, None)
        self._leases.pop(conversation, None)
        self._lanes.pop(conversation, None)
        self._finished = {m: None for m in self._finished if m not in mine}
