"""Who may do what with a helpline's conversations in the console, and the audit of it.

- Any account that works a desk's queue (counsellor, supervisor, admin) may claim a waiting
  conversation of its own helpline, and act (write, close, hand back, transfer) only on a
  conversation it holds.
- Taking over a colleague's live conversation needs a supervisor's or an admin's role, and is
  an explicit action, never a side effect of another one.
- A transfer goes to a counsellor of the same helpline whose role works the queue, or back to
  the desk's own queue for anyone there to claim; nothing else.
- Another helpline's ticket is unknown here: it answers as if it did not exist.

Each rule that depends on the ticket's current holder is checked inside the queue's atomic change,
so a takeover and the former holder's last action cannot both win. Every claim, takeover, transfer
and close is written to the audit log (bot.handoff.audit), without any text.
"""

from __future__ import annotations

from typing import Callable

from bot.handoff.audit import AuditEntry, AuditLog
from bot.handoff.counsellors import ADMIN, COUNSELLOR, SUPERVISOR, Counsellors, Session
from bot.handoff.outcomes import HANDED_BACK, Outcomes
from bot.handoff.queue import HandoffQueue, State, Ticket, claimed, closed, returned, taken_over, transferred
from bot.language.texts import Texts

QUEUE_ROLES = (COUNSELLOR, SUPERVISOR, ADMIN)  # work a desk's queue
TAKEOVER_ROLES = (SUPERVISOR, ADMIN)
AUDIT_ROLES = (SUPERVISOR, ADMIN)  # read their helpline's audit log


class Refused(Exception):
    """An action the rules do not allow; the message says why, for the person who tried."""


class NotAllowed(Refused):
    """Not for this account (its role, or a conversation it does not hold)."""


class BadRequest(Refused):
    """The action itself is malformed: no target, or a target that does not exist."""


class Unknown(Refused):
    """No such ticket, as far as this account can tell (another helpline's looks the same)."""


def works_queue(session: Session) -> bool:
    return session.role in QUEUE_ROLES and bool(session.helpline)


def reads_audit(session: Session) -> bool:
    return session.role in AUDIT_ROLES and bool(session.helpline)


def held_by(ticket: Ticket, username: str) -> Ticket:
    """``ticket`` if ``username`` holds it; NotAllowed (saying who can) otherwise."""
    if ticket.state is State.CLAIMED and ticket.counsellor == username:
        return ticket
    if ticket.state is State.CLAIMED:
        raise NotAllowed(
            f"{ticket.counsellor} holds this conversation: only they can act on it, unless a supervisor takes it over"
        )
    if ticket.state is State.WAITING:
        raise NotAllowed("you do not hold this conversation: claim it first")
    return ticket  # closed or expired: the queue's own check says so (409)


async def end_handoff(
    queue: HandoffQueue,
    texts: Texts,
    outcomes: Outcomes,
    ticket_id: str,
    outcome: str,
    check: Callable[[Ticket], Ticket] = lambda ticket: ticket,
) -> Ticket:
    """A counsellor (or a helpline's own system) closes the conversation with an outcome category,
    or hands it back to the bot; the child is told, in their language, so they are never left waiting.
    ``check`` runs inside the atomic change (who may close it)."""
    code = outcomes.check(outcome)
    ticket = await queue.update(ticket_id, lambda t: closed(check(t), code))
    notice = "handoff_returned" if outcome == HANDED_BACK else "handoff_ended"
    await queue.send(ticket, "bot", texts.get(notice, ticket.language))
    return ticket


class Casework:
    """The console's actions on tickets, each checked against the rules above and audited."""

    def __init__(
        self,
        queue: HandoffQueue,
        accounts: Counsellors,
        audit: AuditLog,
        texts: Texts,
        outcomes: Outcomes,
    ) -> None:
        self.queue, self.accounts, self.audit = queue, accounts, audit
        self._texts, self._outcomes = texts, outcomes

    async def ticket(self, session: Session, ticket_id: str) -> Ticket:
        """One of the session's helpline's tickets, or Unknown."""
        ticket = await self.queue.get(ticket_id)
        if ticket is None or not session.helpline or ticket.helpline != session.helpline:
            raise Unknown("no such ticket")
        return ticket

    async def claim(self, session: Session, ticket_id: str) -> Ticket:
        self._works_queue(session)
        await self.ticket(session, ticket_id)
        ticket = await self.queue.update(ticket_id, lambda t: claimed(t, session.username))
        await self._audit(session, "claim", ticket)
        return ticket

    async def take_over(self, session: Session, ticket_id: str) -> Ticket:
        if session.role not in TAKEOVER_ROLES:
            raise NotAllowed("taking over a colleague's conversation needs a supervisor's or an admin's role")
        before = await self.ticket(session, ticket_id)
        holders: list[str] = []

        def change(ticket: Ticket) -> Ticket:
            holders[:] = [ticket.counsellor or ""]  # whom it was taken from, read inside the atomic change
            return taken_over(ticket, session.username)

        ticket = await self.queue.update(before.id, change)
        await self._audit(session, "takeover", ticket, holder=holders[0])
        return ticket

    async def transfer(self, session: Session, ticket_id: str, to: str = "", desk: str = "") -> Ticket:
        """To ``to`` (a username) or back to ``desk``'s queue (the ticket's own helpline); one of the two."""
        self._works_queue(session)
        current = held_by(await self.ticket(session, ticket_id), session.username)  # checked again, atomically
        if bool(to) == bool(desk):
            raise BadRequest("say where to: a counsellor's username (to) or the desk's code (desk), not both")
        if desk:
            if desk.strip().upper() != current.helpline:
                raise NotAllowed(
                    f"a conversation stays with its helpline: transfer it to a counsellor of {current.helpline} "
                    f"or back to desk {current.helpline}"
                )
            ticket = await self.queue.update(ticket_id, lambda t: returned(held_by(t, session.username)))
            await self._audit(session, "transfer", ticket, to=f"desk:{current.helpline}")
            return ticket
        target = to.strip().lower()
        if target == session.username:
            raise BadRequest("you hold this conversation already")
        account = await self.accounts.account(target)
        if account is None or account.helpline != current.helpline or account.role not in QUEUE_ROLES:
            # Unknown and another helpline's accounts are refused alike: names elsewhere are not told.
            raise NotAllowed(f"{target} is not a counsellor of helpline {current.helpline}: transfer only to one")
        ticket = await self.queue.update(ticket_id, lambda t: transferred(held_by(t, session.username), target))
        await self._audit(session, "transfer", ticket, to=target)
        return ticket

    async def reply(self, session: Session, ticket_id: str, text: str, key: str = "") -> Ticket:
        """Write to the child, once per idempotency ``key`` (not audited: the transcript keeps it,
        for its own period)."""
        held_by(await self.ticket(session, ticket_id), session.username)
        return await self.queue.reply(ticket_id, session.username, text, key)

    async def close(self, session: Session, ticket_id: str, outcome: str) -> Ticket:
        """Close with an outcome code, or hand back to the bot (``HANDED_BACK``); the child is told."""
        await self.ticket(session, ticket_id)
        ticket = await end_handoff(
            self.queue,
            self._texts,
            self._outcomes,
            ticket_id,
            outcome,
            lambda t: held_by(t, session.username),
        )
        await self._audit(session, "close", ticket, outcome=ticket.outcome or "")
        return ticket

    async def entries(self, session: Session, limit: int, before: str = "") -> list[AuditEntry]:
        """The session's helpline's audit log, newest first (supervisors and admins only)."""
        if not reads_audit(session):
            raise NotAllowed("only a supervisor or an admin reads the audit log")
        return await self.audit.read(session.helpline, limit, before or None)

    def _works_queue(self, session: Session) -> None:
        if not works_queue(session):
            raise NotAllowed("this account does not work a desk's queue")

    async def _audit(self, session: Session, what: str, ticket: Ticket, **details: str) -> None:
        entry = AuditEntry(session.username, session.role, what, ticket.id, **details)
        await self.audit.write(ticket.helpline, entry)
