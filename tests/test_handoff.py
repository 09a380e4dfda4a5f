"""The handoff queue, in memory and on the real Redis: order, ownership, races, restarts."""

from __future__ import annotations

import asyncio
import uuid
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.handoff.queue import MemoryHandoffQueue, RedisHandoffQueue, Risk, State, Ticket, TicketError

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "redis"])
async def queue(request) -> AsyncIterator:
    """An empty queue of the parametrized backend (on Redis: its own key prefix, removed afterwards)."""
    if request.param == "memory":
        yield MemoryHandoffQueue()
        return
    prefix = f"test-handoff:{uuid.uuid4().hex}:"
    client = aioredis.from_url(REDIS_URL)
    try:
        yield RedisHandoffQueue(client, prefix)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.close()


def ticket(conversation: str = "sms-a", risk: Risk = Risk.ASKED, helpline: str = "KE", at: float = 0.0) -> Ticket:
    made = Ticket.new(
        helpline,
        conversation,
        "sms",
        "KE",
        "sw",
        risk,
        "talk_to_human",
        intake={"who": "me", "age": "13-15"},
        last_messages=tuple(f"m{i}" for i in range(15)),
    )
    return made if not at else Ticket(**{**made.__dict__, "created_at": at, "updated_at": at})


async def test_a_ticket_waits_and_a_conversation_has_one_open_ticket(queue):
    first = await queue.open(ticket())
    assert first.state is State.WAITING and len(first.last_messages) == 10  # only the last ten
    again = await queue.open(ticket())
    assert again.id == first.id
    assert (await queue.active("sms-a")).id == first.id
    assert await queue.position(first.id) == 1


async def test_opens_at_once_for_one_conversation_make_one_ticket_and_a_closed_one_does_not_count(queue):
    opened = await asyncio.gather(*(queue.open(ticket("sms-b"), turn="t1") for _ in range(12)))
    assert len({t.id for t in opened}) == 1 and [t.id for t in await queue.waiting("KE")] == [opened[0].id]
    assert (await queue.open(ticket("sms-b"), turn="t2")).id == opened[0].id  # the open one
    await queue.close(opened[0].id, "resolved")
    after = await queue.open(ticket("sms-b"), turn="t2")
    assert after.id != opened[0].id and (await queue.active("sms-b")).id == after.id
    assert (await queue.open(ticket("sms-b"), turn="t1")).id == opened[0].id  # what t1 opened, closed now


async def test_risk_comes_first_then_waiting_time(queue):
    asked = await queue.open(ticket("a", Risk.ASKED, at=1000.0))
    imminent = await queue.open(ticket("b", Risk.IMMINENT, at=3000.0))
    harm = await queue.open(ticket("c", Risk.HARM, at=2000.0))
    older_imminent = await queue.open(ticket("d", Risk.IMMINENT, at=2500.0))
    await queue.open(ticket("e", Risk.IMMINENT, helpline="GB"))  # another helpline's queue
    order = [t.id for t in await queue.waiting("KE")]
    assert order == [older_imminent.id, imminent.id, harm.id, asked.id]
    assert [await queue.position(t) for t in order] == [1, 2, 3, 4]


async def test_two_counsellors_claiming_at_once_only_one_wins(queue):
    waiting = await queue.open(ticket())
    results = await asyncio.gather(*(queue.claim(waiting.id, f"c{i}") for i in range(5)), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1 and all(isinstance(r, TicketError) for r in results if r not in winners)
    now = await queue.get(waiting.id)
    assert now.state is State.CLAIMED and now.counsellor == winners[0].counsellor
    assert await queue.waiting("KE") == [] and await queue.position(waiting.id) is None
    assert (await queue.active("sms-a")).id == waiting.id  # the bot still stays quiet


async def test_transfer_close_and_a_new_ticket_afterwards(queue):
    first = await queue.open(ticket())
    with pytest.raises(TicketError):
        await queue.transfer(first.id, "c2")  # not claimed yet
    await queue.claim(first.id, "c1")
    moved = await queue.transfer(first.id, "c2")
    assert moved.counsellor == "c2" and moved.history == ("claimed by c1", "transferred to c2")
    done = await queue.close(first.id, "online sexual abuse: referred")
    assert done.state is State.CLOSED and done.outcome == "online sexual abuse: referred"
    assert await queue.active("sms-a") is None
    with pytest.raises(TicketError):
        await queue.close(first.id, "again")
    second = await queue.open(ticket())
    assert second.id != first.id and (await queue.active("sms-a")).id == second.id


async def test_only_a_waiting_ticket_expires(queue):
    waiting = await queue.open(ticket())
    gone = await queue.expire(waiting.id)
    assert gone.state is State.EXPIRED and await queue.active("sms-a") is None and await queue.waiting("KE") == []
    other = await queue.open(ticket("sms-b"))
    await queue.claim(other.id, "c1")
    with pytest.raises(TicketError):
        await queue.expire(other.id)
    with pytest.raises(TicketError):
        await queue.claim("no-such-ticket", "c1")


async def test_tickets_survive_a_restart_of_every_process():
    prefix = f"test-handoff:{uuid.uuid4().hex}:"

    async def before() -> str:
        client = aioredis.from_url(REDIS_URL)
        made = await RedisHandoffQueue(client, prefix).open(ticket(risk=Risk.IMMINENT))
        await client.close()
        return made.id

    async def after(ticket_id: str) -> None:
        client = aioredis.from_url(REDIS_URL)  # a new client, as after a restart
        queue = RedisHandoffQueue(client, prefix)
        found = await queue.get(ticket_id)
        assert found.risk is Risk.IMMINENT and found.intake == {"who": "me", "age": "13-15"}
        assert (await queue.active("sms-a")).id == ticket_id and await queue.position(ticket_id) == 1
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        await client.delete(*keys)
        await client.close()

    await after(await before())


async def test_the_conversation_is_kept_with_the_ticket(queue):
    opened = await queue.open(ticket())
    await queue.append(opened, "child", "are you there?")
    await queue.append(opened, "counsellor-1", "Yes, I'm here. <b>You are safe to talk.</b>")
    assert await queue.messages(opened.id) == [
        ("child", "are you there?"),
        ("counsellor-1", "Yes, I'm here. <b>You are safe to talk.</b>"),
    ]
    assert await queue.messages("unknown") == []


async def test_only_the_owner_writes_to_the_child_and_each_message_is_sent_once(queue):
    opened = await queue.open(ticket())
    with pytest.raises(TicketError):
        await queue.reply(opened.id, "c1", "not claimed yet")
    await queue.claim(opened.id, "c1")
    with pytest.raises(TicketError):
        await queue.reply(opened.id, "c2", "not mine")
    await queue.reply(opened.id, "c1", "Hi, I'm Amina. I'm here.")
    await queue.reply(opened.id, "c1", "Are you safe right now?")
    first = await queue.outbox.read("worker-1", block_ms=200)
    second = await queue.outbox.read("worker-2", block_ms=200)
    assert [(p.conversation, p.channel, p.seq) for p in first] == [("sms-a", "sms", 1), ("sms-a", "sms", 2)]
    assert second == []  # each message is given to one sender only
    said = await queue.transcript(opened.id)
    assert [(s.author, s.text) for s in said] == [("c1", "Hi, I'm Amina. I'm here."), ("c1", "Are you safe right now?")]
    assert [p.message for p in first] == [s.delivery for s in said]  # the console finds each one's state


async def test_every_change_and_message_is_an_event_of_its_helpline(queue):
    mark = await queue.last_event("KE")
    opened = await queue.open(ticket())
    await queue.open(ticket("sms-b", helpline="GB"))  # another helpline's stream
    await queue.append(opened, "child", "hello?")
    await queue.claim(opened.id, "c1")
    seen = await queue.events("KE", after=mark)
    assert [(e.kind, e.ticket) for e in seen] == [
        ("opened", opened.id),
        ("message", opened.id),
        ("changed", opened.id),
    ]
    assert await queue.message(opened.id, seen[1].entry) == ("child", "hello?")
    assert await queue.message(opened.id, "not-an-id") is None
    assert await queue.events("KE", after=seen[-1].id) == [] and await queue.last_event("KE") == seen[-1].id

    async def later() -> None:
        await asyncio.sleep(0.2)
        await queue.close(opened.id, "Counselling given")

    waiter = asyncio.ensure_future(later())
    woken = await queue.events("KE", after=seen[-1].id, block_ms=3000)  # waits for the close
    await waiter
    assert [(e.kind, e.ticket) for e in woken] == [("changed", opened.id)]


async def test_a_more_urgent_message_moves_a_waiting_ticket_up(queue):
    from bot.handoff.queue import raised

    first = await queue.open(ticket("sms-a", Risk.HARM, at=1000.0))
    second = await queue.open(ticket("sms-b", Risk.ASKED, at=500.0))
    assert [t.id for t in await queue.waiting("KE")] == [first.id, second.id]
    up = await queue.update(second.id, lambda t: raised(t, Risk.IMMINENT))
    assert up.risk is Risk.IMMINENT and up.history[-1] == "risk raised to imminent"
    assert [t.id for t in await queue.waiting("KE")] == [second.id, first.id]
    assert await queue.position(second.id) == 1
    same = await queue.update(second.id, lambda t: raised(t, Risk.ASKED))  # never lowered
    assert same.risk is Risk.IMMINENT
