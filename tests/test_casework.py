"""Who may claim, take over, transfer, write to and close which conversation, and the audit log of it,
on the real Redis without the console (bot.handoff.casework, bot.handoff.audit)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from typing import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.handoff.audit import AuditEntry, AuditLog
from bot.handoff.casework import BadRequest, Casework, NotAllowed, Unknown
from bot.handoff.counsellors import ADMIN, GLOBAL_ADMIN, SUPERVISOR, Counsellors, Session
from bot.handoff.outcomes import HANDED_BACK, Outcomes
from bot.handoff.queue import RedisHandoffQueue, Risk, State, Ticket, TicketError
from bot.language.detection import LanguageRegistry
from bot.language.texts import Texts
from bot.stats.counters import HandoffEvent, MemoryStats
from bot.stats.record import ABANDONED, recorder

REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "a long enough password"
CHILD_SAYS = "my stepdad hits me please help"  # must never reach the audit log


@pytest.fixture(scope="module")
def texts() -> Texts:
    registry = LanguageRegistry()
    return Texts.load(registry.codes, registry.default)


class Desk:
    """A helpline's casework on Redis under a key prefix of its own, with its people logged in."""

    def __init__(self, client: aioredis.Redis, prefix: str, texts: Texts) -> None:
        self.client, self.prefix = client, prefix
        self.stats = MemoryStats()
        self.queue = RedisHandoffQueue(client, prefix + "handoff:", observer=recorder(self.stats))
        self.accounts = Counsellors(client, prefix + "console:")
        self.audit = AuditLog(client, prefix + "console:", keep_days=365)
        self.casework = Casework(self.queue, self.accounts, self.audit, texts, Outcomes.load())

    async def person(self, name: str, helpline: str | None = "KE", role: str = "counsellor") -> Session:
        await self.accounts.add(name, helpline, PASSWORD, role)
        session = (await self.accounts.login(name, PASSWORD)).session
        assert session is not None
        return session

    async def ticket(self, helpline: str = "KE") -> Ticket:
        opened = Ticket.new(helpline, f"sms-{secrets.token_hex(4)}", "sms", helpline, "en", Risk.HARM, "talk_to_human")
        opened = Ticket(**{**opened.__dict__, "last_messages": (CHILD_SAYS,)})
        ticket = await self.queue.open(opened)
        await self.queue.append(ticket, "child", CHILD_SAYS)
        return ticket

    def claims_counted(self) -> Counter[str]:
        counted: Counter[str] = Counter()
        for week in list(self.stats._weeks):
            for event, count in self.stats._weeks[week].items():
                if isinstance(event, HandoffEvent):
                    counted[event.figure] += count
        return counted


@pytest.fixture
async def desk(texts: Texts) -> AsyncIterator[Desk]:
    prefix = f"test-casework:{secrets.token_hex(4)}:"
    client = aioredis.from_url(REDIS_URL)
    try:
        yield Desk(client, prefix, texts)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.close()


async def test_a_counsellor_claims_and_acts_only_on_what_they_hold(desk):
    amina, baraka = await desk.person("amina"), await desk.person("baraka")
    ticket = await desk.ticket()
    with pytest.raises(NotAllowed, match="claim it first"):
        await desk.casework.reply(amina, ticket.id, "hello")
    held = await desk.casework.claim(amina, ticket.id)
    assert (held.state, held.counsellor) == (State.CLAIMED, "amina")
    with pytest.raises(TicketError, match="not waiting"):
        await desk.casework.claim(baraka, ticket.id)
    refusal = "amina holds this conversation: only they can act on it, unless a supervisor takes it over"
    for act in (
        lambda: desk.casework.reply(baraka, ticket.id, "hi, I'm Baraka"),
        lambda: desk.casework.close(baraka, ticket.id, "counselling_given"),
        lambda: desk.casework.close(baraka, ticket.id, HANDED_BACK),
        lambda: desk.casework.transfer(baraka, ticket.id, to="amina"),
        lambda: desk.casework.transfer(baraka, ticket.id, desk="KE"),
    ):
        with pytest.raises(NotAllowed) as refused:
            await act()
        assert str(refused.value) == refusal
    with pytest.raises(NotAllowed, match="supervisor's or an admin's role"):
        await desk.casework.take_over(baraka, ticket.id)
    now = await desk.queue.get(ticket.id)
    assert (now.state, now.counsellor) == (State.CLAIMED, "amina")  # nothing moved
    assert await desk.queue.messages(ticket.id) == [("child", CHILD_SAYS)]  # baraka's words never went out
    await desk.casework.reply(amina, ticket.id, "hi, I'm Amina")
    closed = await desk.casework.close(amina, ticket.id, "counselling_given")
    assert (closed.state, closed.outcome) == (State.CLOSED, "counselling_given")
    with pytest.raises(TicketError):
        await desk.casework.reply(amina, ticket.id, "too late")


async def test_a_supervisor_takes_over_and_it_is_audited(desk):
    amina, zawadi = await desk.person("amina"), await desk.person("zawadi", role=SUPERVISOR)
    ticket = await desk.ticket()
    with pytest.raises(TicketError, match="not held by anyone: claim it instead"):
        await desk.casework.take_over(zawadi, ticket.id)
    await desk.casework.claim(amina, ticket.id)
    taken = await desk.casework.take_over(zawadi, ticket.id)
    assert (taken.counsellor, taken.history[-1]) == ("zawadi", "taken over by zawadi from amina")
    with pytest.raises(TicketError, match="you hold this conversation already"):
        await desk.casework.take_over(zawadi, ticket.id)
    with pytest.raises(NotAllowed, match="zawadi holds this conversation"):
        await desk.casework.reply(amina, ticket.id, "still here?")
    await desk.casework.reply(zawadi, ticket.id, "Hi, I'm Zawadi, I'm taking over from Amina.")
    entries = await desk.audit.read("KE")
    assert [(e.who, e.role, e.what, e.ticket, e.holder) for e in entries] == [
        ("zawadi", SUPERVISOR, "takeover", ticket.id, "amina"),
        ("amina", "counsellor", "claim", ticket.id, ""),
    ]
    assert all(abs(int(e.id.split("-")[0]) / 1000 - time.time()) < 60 for e in entries)  # written now


async def test_an_admin_takes_over_but_a_global_admin_works_no_queue(desk):
    amina, wanjiru = await desk.person("amina"), await desk.person("wanjiru", role=ADMIN)
    chi = await desk.person("chi-stats", None, GLOBAL_ADMIN)
    ticket = await desk.ticket()
    with pytest.raises(NotAllowed, match="does not work a desk's queue"):
        await desk.casework.claim(chi, ticket.id)
    await desk.casework.claim(amina, ticket.id)
    with pytest.raises(NotAllowed, match="supervisor's or an admin's role"):  # "admin" means a helpline's
        await desk.casework.take_over(chi, ticket.id)
    assert (await desk.casework.take_over(wanjiru, ticket.id)).counsellor == "wanjiru"


async def test_another_helplines_ticket_does_not_exist_for_anyone(desk):
    ticket = await desk.ticket("NG")
    for session in (
        await desk.person("amina"),
        await desk.person("zawadi", role=SUPERVISOR),
        await desk.person("wanjiru", role=ADMIN),
    ):
        for act in (
            lambda session=session: desk.casework.claim(session, ticket.id),
            lambda session=session: desk.casework.reply(session, ticket.id, "hi"),
            lambda session=session: desk.casework.transfer(session, ticket.id, desk="NG"),
            lambda session=session: desk.casework.close(session, ticket.id, "counselling_given"),
        ):
            with pytest.raises(Unknown, match="no such ticket"):
                await act()
    with pytest.raises(Unknown):
        await desk.casework.take_over(session, ticket.id)
    assert (await desk.queue.get(ticket.id)).state is State.WAITING and await desk.audit.read("KE") == []


async def test_a_transfer_goes_to_a_colleague_of_the_same_helpline_or_back_to_its_desk(desk):
    amina, baraka = await desk.person("amina"), await desk.person("baraka")
    await desk.person("kwame", "GH")  # another helpline's counsellor
    await desk.person("chi-stats", None, GLOBAL_ADMIN)
    ticket = await desk.ticket()
    await desk.casework.claim(amina, ticket.id)
    for target in ("kwame", "chi-stats", "nobody-of-that-name", "Bad Name!"):
        with pytest.raises(NotAllowed) as refused:
            await desk.casework.transfer(amina, ticket.id, to=target)
        assert str(refused.value) == f"{target.lower()} is not a counsellor of helpline KE: transfer only to one"
    with pytest.raises(NotAllowed, match="a conversation stays with its helpline"):
        await desk.casework.transfer(amina, ticket.id, desk="GH")
    with pytest.raises(BadRequest, match="say where to"):
        await desk.casework.transfer(amina, ticket.id)
    with pytest.raises(BadRequest, match="say where to"):
        await desk.casework.transfer(amina, ticket.id, to="baraka", desk="KE")
    with pytest.raises(BadRequest, match="you hold this conversation already"):
        await desk.casework.transfer(amina, ticket.id, to="amina")
    assert (await desk.queue.get(ticket.id)).counsellor == "amina"  # every refusal left it where it was

    moved = await desk.casework.transfer(amina, ticket.id, to="baraka")
    assert (moved.state, moved.counsellor) == (State.CLAIMED, "baraka")
    back = await desk.casework.transfer(baraka, ticket.id, desk="ke")
    assert (back.state, back.counsellor) == (State.WAITING, None)
    assert [t.id for t in await desk.queue.waiting("KE")] == [ticket.id]  # anyone at the desk may claim it
    assert (await desk.casework.claim(amina, ticket.id)).counsellor == "amina"
    entries = [(e.who, e.what, e.to) for e in reversed(await desk.audit.read("KE"))]
    assert entries == [
        ("amina", "claim", ""),
        ("amina", "transfer", "baraka"),
        ("baraka", "transfer", "desk:KE"),
        ("amina", "claim", ""),
    ]
    # Claimed twice, but one handoff: the statistics count one claim, and no abandonment.
    counted = desk.claims_counted()
    assert sum(n for figure, n in counted.items() if figure.startswith("claimed_")) == 1
    assert await desk.queue.recent_claims("KE") != [] and len(await desk.queue.recent_claims("KE")) == 1
    await desk.casework.transfer(amina, ticket.id, desk="KE")
    await desk.queue.expire(ticket.id)
    assert desk.claims_counted()[ABANDONED] == 0


async def test_a_takeover_and_the_holders_last_action_cannot_both_win(desk):
    amina, zawadi = await desk.person("amina"), await desk.person("zawadi", role=SUPERVISOR)
    for _ in range(5):
        ticket = await desk.ticket()
        await desk.casework.claim(amina, ticket.id)
        results = await asyncio.gather(
            desk.casework.take_over(zawadi, ticket.id),
            desk.casework.close(amina, ticket.id, "counselling_given"),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, Ticket)]
        assert len(won) == 1, results
        final = await desk.queue.get(ticket.id)
        assert final.state is State.CLOSED if won[0].state is State.CLOSED else final.counsellor == "zawadi"


async def test_the_audit_log_says_who_when_what_and_never_any_text(desk):
    amina, zawadi = await desk.person("amina"), await desk.person("zawadi", role=SUPERVISOR)
    ticket = await desk.ticket()
    await desk.casework.claim(amina, ticket.id)
    await desk.casework.reply(amina, ticket.id, "You did the right thing by writing to us.")
    await desk.casework.take_over(zawadi, ticket.id)
    await desk.casework.close(zawadi, ticket.id, "referred_to_police")
    with pytest.raises(NotAllowed, match="only a supervisor or an admin reads the audit log"):
        await desk.casework.entries(amina, 10)
    entries = await desk.casework.entries(zawadi, 10)
    assert [e.to_dict() | {"id": "", "at": ""} for e in entries] == [
        {"id": "", "at": "", "who": "zawadi", "role": SUPERVISOR, "what": "close", "ticket": ticket.id}
        | {"holder": "", "to": "", "outcome": "referred_to_police"},
        {"id": "", "at": "", "who": "zawadi", "role": SUPERVISOR, "what": "takeover", "ticket": ticket.id}
        | {"holder": "amina", "to": "", "outcome": ""},
        {"id": "", "at": "", "who": "amina", "role": "counsellor", "what": "claim", "ticket": ticket.id}
        | {"holder": "", "to": "", "outcome": ""},
    ]
    assert entries[0].at.endswith("+00:00") and entries[0].at[:4].isdigit()
    stored = await desk.client.xrange(f"{desk.prefix}console:audit:KE")
    everything = repr(stored)
    assert CHILD_SAYS not in everything and "right thing" not in everything and "sms-" not in everything
    assert {field.decode() for _, fields in stored for field in fields} == {
        "who",
        "role",
        "what",
        "ticket",
        "holder",
        "to",
        "outcome",
    }
    older = await desk.casework.entries(zawadi, 2)
    assert [e.what for e in await desk.casework.entries(zawadi, 10, older[-1].id)] == ["claim"]  # read on


async def test_the_audit_log_is_bounded_in_time(desk):
    log = AuditLog(desk.client, desk.prefix + "console:", keep_days=1)
    key = f"{desk.prefix}console:audit:KE"
    two_days_ago = int(time.time() * 1000) - 2 * 86_400_000
    await desk.client.xadd(key, {"who": "old", "role": "counsellor", "what": "claim", "ticket": "t0"}, id=two_days_ago)
    await log.write("KE", AuditEntry("amina", "counsellor", "claim", "t1"))
    assert [e.who for e in await log.read("KE")] == ["amina"]  # past its period: never read
    assert 0 < await desk.client.pttl(key) <= 86_400_000  # a quiet helpline's log expires with the period
