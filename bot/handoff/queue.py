"""The handoff queue: tickets that hand a child's conversation to a counsellor of their helpline.

One queue per helpline, ordered by risk, then by waiting time. A ticket moves waiting -> claimed
-> closed (or expired, or transferred to another counsellor); while a conversation has an open
ticket, the channels send the child's messages to the counsellor instead of the bot. In deployment
everything lives in Redis, so several bot and console processes share it and a restart loses
nothing; the embedded default keeps the same interface in memory.

A turn that another server runs again (bot.storage.turns) opens no second ticket and writes the
child's message once: with a turn key, ``open`` and ``append`` note what the turn did, in the same
transaction, in the conversation's turn record (``<prefix>turns:<conversation>`` in Redis: a hash
of ``<what>:<digest of the turn key>`` fields, kept ``TURN_KEPT_S`` after its last write and erased
with the conversation). The relay keeps there too what the child was told (``note_said``).
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Optional, Protocol, TypedDict

from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError, WatchError

from bot.delivery.outbox import MemoryOutbox, Message, Outbox, Queued, RedisOutbox, Transcript
from bot.storage.stores import RedisClient, as_text, stream_field
from bot.storage.turns import TURN_KEPT_S, mark

if TYPE_CHECKING:
    from typing_extensions import Unpack

LAST_MESSAGES = 10  # the child's recent messages the counsellor sees with the ticket
EVENTS_KEPT = 10_000  # per helpline: enough for any reader that is minutes behind
CLAIMS_KEPT = 20  # when the helpline's last tickets were claimed: the pace a waiting child's estimate rests on
_RISK_SPAN = 10**13  # milliseconds: risk outranks any waiting time


class Risk(enum.IntEnum):
    ASKED = 1  # asked for a person, or two misunderstandings in a row
    HARM = 2  # online sexual abuse: sextortion, grooming
    IMMINENT = 3  # self-harm, danger now


class State(str, enum.Enum):
    WAITING = "waiting"
    CLAIMED = "claimed"
    CLOSED = "closed"
    EXPIRED = "expired"


OPEN_STATES = (State.WAITING, State.CLAIMED)


class TicketError(ValueError):
    """A change the ticket's state does not allow (already claimed, closed...)."""


class TurnRecord(NamedTuple):
    """What a turn (by its key) did to a conversation's handoff: the ticket it opened, the log
    entry it wrote, what the child was told (as the relay wrote it); each "" when not (yet)."""

    opened: str = ""
    wrote: str = ""
    said: str = ""


OPENED, WROTE, SAID = "o", "w", "s"  # the fields of a turn record: <what>:<mark of the turn key>


def _field(what: str, turn: str) -> str:
    return f"{what}:{mark(turn)}"


class Said(NamedTuple):
    """One message of a ticket's conversation; ``delivery`` names a message to the child in the
    outbox (bot.delivery.outbox), whose state the console shows next to it."""

    author: str
    text: str
    delivery: str = ""


@dataclass(frozen=True)
class Event:
    """Something happened to one of a helpline's tickets: consoles refresh, webhooks deliver.

    ``kind`` is "opened", "changed" (claimed, transferred, closed, expired, reminded, intake),
    "message" or "delivery" (a message to the child was sent, delivered or failed); for the last
    two, ``entry`` is the message's id in the ticket's conversation.
    """

    id: str  # the event's place in the helpline's stream: read on from here
    kind: str
    ticket: str
    entry: str = ""


def check_owner(ticket: Ticket, counsellor: str) -> Ticket:
    if ticket.state is not State.CLAIMED or ticket.counsellor != counsellor:
        raise TicketError("only the counsellor who has claimed the ticket can write to the child")
    return ticket


class _Changes(TypedDict, total=False):
    """What a move may change besides the state (Ticket.moved)."""

    counsellor: Optional[str]
    outcome: str
    reminded: bool
    risk: Risk


@dataclass(frozen=True)
class Ticket:
    id: str
    helpline: str  # the helpline desk whose counsellors may see it (a country code)
    conversation: str  # the hashed sender id, never the child's address
    channel: str
    country: Optional[str]
    language: str
    risk: Risk
    reason: str  # the need that triggered it: self_harm, talk_to_human...
    intake: dict[str, str] = field(default_factory=dict)
    last_messages: tuple[str, ...] = ()
    state: State = State.WAITING
    counsellor: Optional[str] = None
    outcome: Optional[str] = None
    created_at: float = 0.0
    updated_at: float = 0.0
    history: tuple[str, ...] = ()  # "claimed by x", "transferred to y": who held it
    reminded: bool = False  # the child was told the wait is long, given the number, asked to choose
    intake_step: Optional[str] = None  # the intake question the child is answering (bot.handoff.intake)
    told_position: Optional[int] = None  # the place in line the child was last told
    told_minutes: Optional[int] = None  # and the wait they were told, None when no estimate was given
    told_at: float = 0.0  # when they were last told

    @classmethod
    def new(
        cls,
        helpline: str,
        conversation: str,
        channel: str,
        country: Optional[str],
        language: str,
        risk: Risk,
        reason: str,
        intake: Optional[dict[str, str]] = None,
        last_messages: tuple[str, ...] = (),
    ) -> "Ticket":
        now = time.time()
        return cls(
            uuid.uuid4().hex,
            helpline,
            conversation,
            channel,
            country,
            language,
            risk,
            reason,
            dict(intake or {}),
            tuple(last_messages[-LAST_MESSAGES:]),
            created_at=now,
            updated_at=now,
        )

    @property
    def priority(self) -> float:
        """Queue score: lower comes first (higher risk, then longer wait)."""
        return (int(Risk.IMMINENT) - int(self.risk)) * _RISK_SPAN + self.created_at * 1000

    def to_json(self) -> str:
        data = asdict(self)
        data["risk"], data["state"] = int(self.risk), self.state.value
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> "Ticket":
        data = json.loads(raw)
        data["risk"], data["state"] = Risk(data["risk"]), State(data["state"])
        data["last_messages"], data["history"] = tuple(data["last_messages"]), tuple(data["history"])
        return cls(**data)

    def moved(self, state: State, note: str, **changes: Unpack[_Changes]) -> "Ticket":
        return replace(self, state=state, updated_at=time.time(), history=self.history + (note,), **changes)


CLAIMED_BY = "claimed by "  # the history note of a claim


def claimed(ticket: Ticket, counsellor: str) -> Ticket:
    if ticket.state is not State.WAITING:
        raise TicketError(f"ticket is {ticket.state.value}, not waiting")
    return ticket.moved(State.CLAIMED, CLAIMED_BY + counsellor, counsellor=counsellor)


def transferred(ticket: Ticket, counsellor: str) -> Ticket:
    if ticket.state is not State.CLAIMED:
        raise TicketError(f"ticket is {ticket.state.value}, not claimed")
    return ticket.moved(State.CLAIMED, f"transferred to {counsellor}", counsellor=counsellor)


def taken_over(ticket: Ticket, counsellor: str) -> Ticket:
    """A supervisor takes a live conversation from the counsellor who holds it."""
    if ticket.state is not State.CLAIMED:
        raise TicketError(f"ticket is {ticket.state.value}, not held by anyone: claim it instead")
    if ticket.counsellor == counsellor:
        raise TicketError("you hold this conversation already")
    return ticket.moved(State.CLAIMED, f"taken over by {counsellor} from {ticket.counsellor}", counsellor=counsellor)


def returned(ticket: Ticket) -> Ticket:
    """Back to its desk's queue, in its old place (by risk and first arrival), for anyone there to claim."""
    if ticket.state is not State.CLAIMED:
        raise TicketError(f"ticket is {ticket.state.value}, not claimed")
    return ticket.moved(State.WAITING, f"returned to desk {ticket.helpline}", counsellor=None)


def closed(ticket: Ticket, outcome: str) -> Ticket:
    if ticket.state not in OPEN_STATES:
        raise TicketError(f"ticket is already {ticket.state.value}")
    return ticket.moved(State.CLOSED, f"closed: {outcome}", outcome=outcome)


def reminded(ticket: Ticket) -> Ticket:
    if ticket.state is not State.WAITING or ticket.reminded:
        raise TicketError("only a waiting ticket is reminded, once")
    return ticket.moved(State.WAITING, "child told the wait is long", reminded=True)


def raised(ticket: Ticket, risk: Risk) -> Ticket:
    """A waiting child says something more urgent: their ticket moves up the queue."""
    if ticket.state not in OPEN_STATES or risk <= ticket.risk:
        return ticket
    return ticket.moved(ticket.state, f"risk raised to {risk.name.lower()}", risk=risk)


def expired(ticket: Ticket) -> Ticket:
    if ticket.state is not State.WAITING:
        raise TicketError(f"ticket is {ticket.state.value}, not waiting")
    return ticket.moved(State.EXPIRED, "expired unclaimed")


class TicketObserver(Protocol):
    """Told of every new ticket (``before`` None) and every change (statistics count them)."""

    async def ticket_changed(self, before: Optional[Ticket], after: Ticket) -> None: ...


class HandoffQueue(Protocol):
    outbox: Outbox  # where messages to children wait until sent (bot.delivery)

    async def open(self, ticket: Ticket, turn: str = "") -> Ticket:
        """Queue a ticket; if the conversation already has an open one, that one is returned, and
        if ``turn`` (a turn key) opened a ticket already, that one, whatever its state."""

    async def get(self, ticket_id: str) -> Optional[Ticket]: ...

    async def active(self, conversation: str) -> Optional[Ticket]:
        """The conversation's open ticket: while there is one, the bot does not answer."""

    async def waiting(self, helpline: str) -> list[Ticket]:
        """The helpline's waiting tickets, first to be served first."""

    async def position(self, ticket_id: str) -> Optional[int]:
        """1 for the next ticket to be claimed; None when not waiting."""

    async def claim(self, ticket_id: str, counsellor: str) -> Ticket: ...

    async def transfer(self, ticket_id: str, counsellor: str) -> Ticket: ...

    async def close(self, ticket_id: str, outcome: str) -> Ticket: ...

    async def expire(self, ticket_id: str) -> Ticket: ...

    async def remind(self, ticket_id: str) -> Ticket:
        """Mark that the child was told the wait is long (once; several servers may try)."""

    async def update(self, ticket_id: str, change: Callable[[Ticket], Ticket]) -> Ticket:
        """Apply ``change`` atomically (intake answers, the wait told, a raised risk)."""

    async def append(self, ticket: Ticket, author: str, text: str, turn: str = "") -> None:
        """Add a message to the ticket's conversation ("child" or a counsellor's name); once per
        ``turn`` (a turn key; "": every time)."""

    async def turn_record(self, conversation: str, turn: str) -> TurnRecord:
        """What ``turn`` did to the conversation's handoff (nothing: all "")."""

    async def note_said(self, conversation: str, turn: str, said: str) -> None:
        """Keep what the child was told in ``turn`` (the relay's own encoding), for a second run."""

    async def send(self, ticket: Ticket, author: str, text: str, key: str = "") -> Queued:
        """A message to the child: kept with the ticket and queued in the outbox for the child's
        channel, once per ``key`` (an idempotency key; empty: a fresh one)."""

    async def recent_claims(self, helpline: str) -> list[float]:
        """When the helpline's last tickets were claimed (Unix times), newest first."""

    async def messages(self, ticket_id: str) -> list[tuple[str, str]]:
        """The ticket's conversation so far: (author, text), oldest first."""

    async def transcript(self, ticket_id: str) -> list[Said]:
        """The ticket's conversation so far, with the outbox's id of each message to the child."""

    async def message(self, ticket_id: str, entry: str) -> Optional[tuple[str, str]]:
        """One message of the ticket's conversation, by the id its event gave."""

    async def events(self, helpline: str, after: str = "$", block_ms: int = 0) -> list[Event]:
        """The helpline's events after ``after`` ("$": from now; "0": all kept), waiting up to
        ``block_ms`` for the first (0: don't wait)."""

    async def last_event(self, helpline: str) -> str:
        """The id of the helpline's latest event ("0" if none): a reader's starting point that,
        unlike "$", misses nothing between two reads."""

    async def reply(self, ticket_id: str, counsellor: str, text: str, key: str = "") -> Ticket:
        """A counsellor's message: kept with the ticket and queued for the child's channel, once
        per ``key`` (the console makes one per message written, so a double click sends it once)."""

    async def erase(self, conversation: str, keep_s: Callable[[str], int] = lambda helpline: 0) -> int:
        """The child asked to delete their data: remove every ticket of the conversation and its
        messages, except where ``keep_s(helpline)`` says a helpline must keep them by law (then
        they expire after that many seconds). Returns how many tickets were removed or held.
        The messages to the child still in the outbox go too."""


class _StateChanges:
    """What both queues do the same way, through each queue's own atomic ``_change``, ``get``,
    ``transcript`` and ``_transcript`` (where the outbox writes a message to the child)."""

    observer: Optional[TicketObserver] = None
    outbox: Outbox

    async def _observed(self, before: Optional[Ticket], after: Ticket) -> None:
        if self.observer is not None:
            await self.observer.ticket_changed(before, after)

    async def _change(self, ticket_id: str, change: Callable[[Ticket], Ticket]) -> Ticket:
        raise NotImplementedError

    async def get(self, ticket_id: str) -> Optional[Ticket]:
        raise NotImplementedError

    async def transcript(self, ticket_id: str) -> list[Said]:
        raise NotImplementedError

    def _transcript(self, ticket: Ticket, author: str) -> Transcript:
        raise NotImplementedError

    async def messages(self, ticket_id: str) -> list[tuple[str, str]]:
        return [(said.author, said.text) for said in await self.transcript(ticket_id)]

    async def reply(self, ticket_id: str, counsellor: str, text: str, key: str = "") -> Ticket:
        ticket = await self.get(ticket_id)
        if ticket is None:
            raise TicketError("no such ticket")
        check_owner(ticket, counsellor)
        await self.send(ticket, counsellor, text, key)
        return ticket

    async def send(self, ticket: Ticket, author: str, text: str, key: str = "") -> Queued:
        message = Message(ticket.conversation, ticket.channel, text, key=key)
        return await self.outbox.enqueue(message, self._transcript(ticket, author))

    async def claim(self, ticket_id: str, counsellor: str) -> Ticket:
        return await self._change(ticket_id, lambda t: claimed(t, counsellor))

    async def transfer(self, ticket_id: str, counsellor: str) -> Ticket:
        return await self._change(ticket_id, lambda t: transferred(t, counsellor))

    async def close(self, ticket_id: str, outcome: str) -> Ticket:
        return await self._change(ticket_id, lambda t: closed(t, outcome))

    async def expire(self, ticket_id: str) -> Ticket:
        return await self._change(ticket_id, expired)

    async def remind(self, ticket_id: str) -> Ticket:
        return await self._change(ticket_id, reminded)

    async def update(self, ticket_id: str, change: Callable[[Ticket], Ticket]) -> Ticket:
        return await self._change(ticket_id, change)


class MemoryHandoffQueue(_StateChanges):
    """The embedded default: one process, nothing survives a restart (local quick start only)."""

    def __init__(self, observer: Optional[TicketObserver] = None) -> None:
        self.observer = observer
        self.outbox = self._outbox = MemoryOutbox(transcripts=self)  # it writes messages into their tickets
        self._tickets: dict[str, Ticket] = {}
        self._logs: dict[str, list[Said]] = {}
        self._events: dict[str, list[Event]] = {}
        self._claims: dict[str, list[float]] = {}
        self._turns: dict[str, tuple[float, dict[str, str]]] = {}  # conversation -> (expires, record)
        self._new_event = asyncio.Condition()
        self._lock = asyncio.Lock()

    async def _event(self, helpline: str, kind: str, ticket: str, entry: str = "") -> None:
        async with self._new_event:
            kept = self._events.setdefault(helpline, [])
            number = int(kept[-1].id) + 1 if kept else 1
            kept.append(Event(str(number), kind, ticket, entry))
            del kept[:-EVENTS_KEPT]
            self._new_event.notify_all()

    async def last_event(self, helpline: str) -> str:
        kept = self._events.get(helpline, [])
        return kept[-1].id if kept else "0"

    async def events(self, helpline: str, after: str = "$", block_ms: int = 0) -> list[Event]:
        kept = self._events.get(helpline, [])
        last = (int(kept[-1].id) if kept else 0) if after == "$" else int(after.split("-")[0])

        def newer() -> list[Event]:
            return [e for e in self._events.get(helpline, []) if int(e.id) > last]

        if not newer() and block_ms:
            async with self._new_event:
                try:
                    await asyncio.wait_for(self._new_event.wait_for(lambda: bool(newer())), block_ms / 1000)
                except asyncio.TimeoutError:
                    pass
        return newer()

    def _record(self, conversation: str) -> dict[str, str]:
        expires, record = self._turns.get(conversation, (0.0, {}))
        return record if expires > time.monotonic() else {}

    def _note(self, conversation: str, what: str, turn: str, value: str) -> None:
        self._turns[conversation] = (
            time.monotonic() + TURN_KEPT_S,
            {**self._record(conversation), _field(what, turn): value},
        )
        for gone in [c for c, (expires, _) in self._turns.items() if expires <= time.monotonic()]:
            del self._turns[gone]

    async def turn_record(self, conversation: str, turn: str) -> TurnRecord:
        record = self._record(conversation)
        return TurnRecord(*(record.get(_field(what, turn), "") for what in (OPENED, WROTE, SAID)))

    async def note_said(self, conversation: str, turn: str, said: str) -> None:
        self._note(conversation, SAID, turn, said)

    async def open(self, ticket: Ticket, turn: str = "") -> Ticket:
        async with self._lock:
            before = (
                self._tickets.get(self._record(ticket.conversation).get(_field(OPENED, turn), "")) if turn else None
            )
            if before:
                return before
            current = self._active(ticket.conversation)
            if current:
                return current
            self._tickets[ticket.id] = ticket
            if turn:
                self._note(ticket.conversation, OPENED, turn, ticket.id)
        await self._event(ticket.helpline, "opened", ticket.id)
        await self._observed(None, ticket)
        return ticket

    async def get(self, ticket_id: str) -> Optional[Ticket]:
        return self._tickets.get(ticket_id)

    async def active(self, conversation: str) -> Optional[Ticket]:
        return self._active(conversation)

    def _active(self, conversation: str) -> Optional[Ticket]:
        return next(
            (t for t in self._tickets.values() if t.conversation == conversation and t.state in OPEN_STATES), None
        )

    async def waiting(self, helpline: str) -> list[Ticket]:
        found = [t for t in self._tickets.values() if t.helpline == helpline and t.state is State.WAITING]
        return sorted(found, key=lambda t: t.priority)

    async def position(self, ticket_id: str) -> Optional[int]:
        ticket = self._tickets.get(ticket_id)
        if ticket is None or ticket.state is not State.WAITING:
            return None
        return [t.id for t in await self.waiting(ticket.helpline)].index(ticket_id) + 1

    async def _change(self, ticket_id: str, change: Callable[[Ticket], Ticket]) -> Ticket:
        async with self._lock:
            ticket = self._tickets.get(ticket_id)
            if ticket is None:
                raise TicketError("no such ticket")
            self._tickets[ticket_id] = changed = change(ticket)
            if first_claim(ticket, changed):
                self._claims[changed.helpline] = [changed.updated_at, *self._claims.get(changed.helpline, [])][
                    :CLAIMS_KEPT
                ]
        await self._event(changed.helpline, "changed", ticket_id)
        await self._observed(ticket, changed)
        return changed

    async def append(self, ticket: Ticket, author: str, text: str, turn: str = "") -> None:
        if turn:
            if _field(WROTE, turn) in self._record(ticket.conversation):
                return
            self._note(ticket.conversation, WROTE, turn, str(len(self._logs.get(ticket.id, [])) + 1))
        await self.write(self._transcript(ticket, author), text, "")

    def _transcript(self, ticket: Ticket, author: str) -> Transcript:
        return Transcript(ticket.id, author, ticket.helpline)

    async def write(self, transcript: Transcript, text: str, delivery: str) -> str:
        log = self._logs.setdefault(transcript.ticket, [])
        log.append(Said(transcript.author, text, delivery))
        await self._event(transcript.helpline, "message", transcript.ticket, str(len(log)))
        return str(len(log))

    async def announce(self, transcript: Transcript, entry: str) -> None:
        await self._event(transcript.helpline, "delivery", transcript.ticket, entry)

    async def transcript(self, ticket_id: str) -> list[Said]:
        return list(self._logs.get(ticket_id, []))

    async def recent_claims(self, helpline: str) -> list[float]:
        return list(self._claims.get(helpline, []))

    async def message(self, ticket_id: str, entry: str) -> Optional[tuple[str, str]]:
        log = self._logs.get(ticket_id, [])
        return log[int(entry) - 1][:2] if entry.isdigit() and 0 < int(entry) <= len(log) else None

    async def erase(self, conversation: str, keep_s: Callable[[str], int] = lambda helpline: 0) -> int:
        await self._outbox.forget(conversation)
        async with self._lock:  # in memory nothing expires: a held transcript is kept until restart
            mine = [t for t in self._tickets.values() if t.conversation == conversation and not keep_s(t.helpline)]
            for ticket in mine:
                del self._tickets[ticket.id]
                self._logs.pop(ticket.id, None)
            self._turns.pop(conversation, None)
            return len(mine)


# KEYS: the conversation's turn record, the ticket's log, the helpline's events; ARGV: the turn's
# field, the record's seconds, author, text, ticket id, events kept. Nothing written twice per turn.
_APPEND_ONCE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return false end
local entry = redis.call('XADD', KEYS[2], '*', 'author', ARGV[3], 'text', ARGV[4])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'kind', 'message', 'ticket', ARGV[5], 'entry', entry)
redis.call('HSET', KEYS[1], ARGV[1], entry)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return entry
"""

# Open a ticket in one step (one round trip: a child in crisis reaches the console sooner): the
# ticket a turn opened before, else the conversation's open one, else the new one, queued, pointed
# at, recorded for the turn and announced. The stored ticket's JSON is returned.
_OPEN = """
local function stored(id)
  if not id then return false end
  return redis.call('GET', ARGV[7] .. id)
end
if ARGV[1] ~= '' then
  local before = stored(redis.call('HGET', KEYS[1], ARGV[1]))
  if before then return before end
end
local current = stored(redis.call('GET', KEYS[2]))
if current then
  local state = cjson.decode(current)['state']
  if state == 'waiting' or state == 'claimed' then return current end
end
redis.call('SET', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[5], ARGV[3])
redis.call('PERSIST', KEYS[5])
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[6], '*', 'kind', 'opened', 'ticket', ARGV[3], 'entry', '')
return ARGV[2]
"""
assert {state.value for state in OPEN_STATES} == {"waiting", "claimed"}, "_OPEN names the open states"


class RedisHandoffQueue(_StateChanges):
    """Tickets as JSON under ``<prefix>ticket:<id>``, one sorted set of waiting ids per helpline,
    and ``<prefix>active:<conversation>`` pointing at a conversation's open ticket. Every change
    is a WATCH/MULTI transaction, so two counsellors claiming at once cannot both win."""

    def __init__(
        self,
        client: RedisClient,
        prefix: str = "helpline:handoff:",
        transcript_s: Optional[Callable[[str], int]] = None,
        observer: Optional[TicketObserver] = None,
        blocking: Optional[RedisClient] = None,
    ) -> None:
        """``transcript_s(helpline)``: how long a closed ticket and its messages are kept;
        ``blocking``: the client for reads that wait (its time limit allows for the wait)."""
        self._redis, self._prefix, self._transcript_s = client, prefix, transcript_s
        self._blocking = blocking or client
        self.observer = observer
        self.outbox = RedisOutbox(client, prefix, self._blocking, EVENTS_KEPT)  # messages to children, until sent
        self._append_once = client.register_script(_APPEND_ONCE)
        self._open = client.register_script(_OPEN)

    def _tickets_of(self, conversation: str) -> str:
        return f"{self._prefix}of:{conversation}"  # the conversation's ticket ids: what erasure removes

    def _ticket(self, ticket_id: str) -> str:
        return f"{self._prefix}ticket:{ticket_id}"

    def _queue(self, helpline: str) -> str:
        return f"{self._prefix}queue:{helpline}"

    def _active_key(self, conversation: str) -> str:
        return f"{self._prefix}active:{conversation}"

    def _turns_key(self, conversation: str) -> str:
        return f"{self._prefix}turns:{conversation}"  # what each turn (by key) did: erased with the conversation

    async def turn_record(self, conversation: str, turn: str) -> TurnRecord:
        found = await self._redis.hmget(self._turns_key(conversation), [_field(w, turn) for w in (OPENED, WROTE, SAID)])
        return TurnRecord(*(as_text(value) if value else "" for value in found))

    async def note_said(self, conversation: str, turn: str, said: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._turns_key(conversation), _field(SAID, turn), said)
            pipe.expire(self._turns_key(conversation), TURN_KEPT_S)
            await pipe.execute()

    def _log(self, ticket_id: str) -> str:
        return f"{self._prefix}log:{ticket_id}"  # a Redis stream: durable, and readable live by consoles

    def _claims_key(self, helpline: str) -> str:
        return f"{self._prefix}claims:{helpline}"

    async def recent_claims(self, helpline: str) -> list[float]:
        return [float(value) for value in await self._redis.lrange(self._claims_key(helpline), 0, -1)]

    def _events_key(self, helpline: str) -> str:
        return f"{self._prefix}events:{helpline}"

    def _add_event(
        self, pipe: Pipeline[str] | Pipeline[bytes], helpline: str, kind: str, ticket_id: str, entry: str = ""
    ) -> None:
        pipe.xadd(
            self._events_key(helpline),
            {"kind": kind, "ticket": ticket_id, "entry": entry},
            maxlen=EVENTS_KEPT,
            approximate=True,
        )

    async def last_event(self, helpline: str) -> str:
        latest = await self._redis.xrevrange(self._events_key(helpline), count=1)
        return as_text(latest[0][0]) if latest else "0"

    async def events(self, helpline: str, after: str = "$", block_ms: int = 0) -> list[Event]:
        key = self._events_key(helpline)
        if after == "$" and not block_ms:
            return []
        reader = self._blocking if block_ms else self._redis
        answer = await reader.xread({key: after}, count=500, block=block_ms or None)
        return [
            Event(
                as_text(entry),
                stream_field(fields, "kind"),
                stream_field(fields, "ticket"),
                stream_field(fields, "entry"),
            )
            for _, entries in answer or []
            for entry, fields in entries
        ]

    async def open(self, ticket: Ticket, turn: str = "") -> Ticket:
        conversation = ticket.conversation
        keys = [
            self._turns_key(conversation),
            self._active_key(conversation),
            self._ticket(ticket.id),
            self._queue(ticket.helpline),
            self._tickets_of(conversation),
            self._events_key(ticket.helpline),
        ]
        field = _field(OPENED, turn) if turn else ""
        args: list[str | int | float] = [
            field,
            ticket.to_json(),
            ticket.id,
            repr(ticket.priority),
            TURN_KEPT_S,
            EVENTS_KEPT,
            self._ticket(""),
        ]
        found = Ticket.from_json(await self._open(keys=keys, args=args))
        if found.id == ticket.id:
            await self._observed(None, ticket)
        return found

    async def get(self, ticket_id: str) -> Optional[Ticket]:
        raw = await self._redis.get(self._ticket(ticket_id))
        return Ticket.from_json(raw) if raw else None

    async def active(self, conversation: str) -> Optional[Ticket]:
        ticket_id = await self._redis.get(self._active_key(conversation))
        ticket = await self.get(as_text(ticket_id)) if ticket_id else None
        return ticket if ticket and ticket.state in OPEN_STATES else None

    async def waiting(self, helpline: str) -> list[Ticket]:
        ids = await self._redis.zrange(self._queue(helpline), 0, -1)
        raws = await self._redis.mget([self._ticket(as_text(ticket_id)) for ticket_id in ids]) if ids else []
        tickets = [Ticket.from_json(raw) for raw in raws if raw]
        return [t for t in tickets if t.state is State.WAITING]

    async def position(self, ticket_id: str) -> Optional[int]:
        ticket = await self.get(ticket_id)
        if ticket is None or ticket.state is not State.WAITING:
            return None
        rank = await self._redis.zrank(self._queue(ticket.helpline), ticket_id)
        return None if rank is None else rank + 1

    async def _change(self, ticket_id: str, change: Callable[[Ticket], Ticket]) -> Ticket:
        key = self._ticket(ticket_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if not raw:
                        raise TicketError("no such ticket")
                    before = Ticket.from_json(raw)
                    ticket = change(before)
                    active = self._active_key(ticket.conversation)
                    await pipe.watch(active)
                    points_here = as_text(await pipe.get(active) or b"") == ticket_id
                    pipe.multi()
                    pipe.set(key, ticket.to_json())
                    if ticket.state is State.WAITING:  # its risk may have risen
                        pipe.zadd(self._queue(ticket.helpline), {ticket_id: ticket.priority})
                    else:
                        pipe.zrem(self._queue(ticket.helpline), ticket_id)
                    if ticket.state not in OPEN_STATES and points_here:
                        pipe.delete(active)
                    if ticket.state not in OPEN_STATES and self._transcript_s:
                        keep = self._transcript_s(ticket.helpline)  # from now on the transcript ages
                        for name in (key, self._log(ticket_id), self._tickets_of(ticket.conversation)):
                            pipe.expire(name, keep)
                    if first_claim(before, ticket):
                        pipe.lpush(self._claims_key(ticket.helpline), ticket.updated_at)
                        pipe.ltrim(self._claims_key(ticket.helpline), 0, CLAIMS_KEPT - 1)
                    self._add_event(pipe, ticket.helpline, "changed", ticket_id)
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        await self._observed(before, ticket)
        return ticket

    async def append(self, ticket: Ticket, author: str, text: str, turn: str = "") -> None:
        if turn:
            keys = (self._turns_key(ticket.conversation), self._log(ticket.id), self._events_key(ticket.helpline))
            args = (_field(WROTE, turn), TURN_KEPT_S, author, text, ticket.id, EVENTS_KEPT)
            await self._append_once(keys=keys, args=args)
            return
        entry = await self._redis.xadd(self._log(ticket.id), {"author": author, "text": text})
        await self._redis.xadd(
            self._events_key(ticket.helpline),
            {"kind": "message", "ticket": ticket.id, "entry": entry},
            maxlen=EVENTS_KEPT,
            approximate=True,
        )

    def _transcript(self, ticket: Ticket, author: str) -> Transcript:
        return Transcript(ticket.id, author, ticket.helpline, self._log(ticket.id), self._events_key(ticket.helpline))

    async def erase(self, conversation: str, keep_s: Callable[[str], int] = lambda helpline: 0) -> int:
        await self.outbox.forget(conversation)
        index = self._tickets_of(conversation)
        ids = [as_text(i) for i in await self._redis.smembers(index)]
        async with self._redis.pipeline(transaction=True) as pipe:
            for ticket_id in ids:
                ticket = await self.get(ticket_id)
                hold = keep_s(ticket.helpline) if ticket else 0
                names = (self._ticket(ticket_id), self._log(ticket_id))
                if hold:
                    for name in names:
                        pipe.expire(name, hold)
                else:
                    pipe.delete(*names)
                if ticket:
                    pipe.zrem(self._queue(ticket.helpline), ticket_id)
            pipe.delete(index, self._active_key(conversation), self._turns_key(conversation))
            await pipe.execute()
        return len(ids)

    async def transcript(self, ticket_id: str) -> list[Said]:
        return [_said(fields) for _, fields in await self._redis.xrange(self._log(ticket_id))]

    async def message(self, ticket_id: str, entry: str) -> Optional[tuple[str, str]]:
        try:
            found = await self._redis.xrange(self._log(ticket_id), min=entry, max=entry)
        except ResponseError:  # not a stream id
            return None
        return _said(found[0][1])[:2] if found else None


def first_claim(before: Ticket, after: Ticket) -> bool:
    """Claimed for the first time: not again after going back to its desk (counted once, in statistics
    and in the pace a waiting child's estimate rests on)."""
    return before.state is State.WAITING and after.state is State.CLAIMED and not ever_claimed(before)


def ever_claimed(ticket: Ticket) -> bool:
    """Has a counsellor ever held it (it may have gone back to its desk's queue since)?"""
    return ticket.counsellor is not None or any(note.startswith(CLAIMED_BY) for note in ticket.history)


def _said(fields: Mapping[Any, str | bytes]) -> Said:
    return Said(stream_field(fields, "author"), stream_field(fields, "text"), stream_field(fields, "delivery"))
