"""The reply API of a helpline's own system (console/openapi.yml): read a ticket, claim it, write
to the child, close it. Served by the console process, next to the counsellors' API.

Each request names its desk (``X-Helpline-Desk``) and is signed with that desk's webhook secret
over its method, path and body (bot.handoff.partner); a stale signature is refused, and a change's
signature is taken once only, so a captured request cannot be played again. A desk reaches its own
tickets only: another desk's ticket answers 404, as if it did not exist. The partner's system acts
as one counsellor, ``partner:<desk>`` (console usernames cannot hold a colon); its claims and closes
are in the desk's audit log (bot.handoff.audit) like the console's, with the role ``partner``.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.handoff.audit import AuditEntry, AuditLog
from bot.handoff.casework import end_handoff
from bot.handoff.desks import Desk, Desks
from bot.handoff.outcomes import Outcomes, UnknownOutcome
from bot.handoff.partner import DESK_HEADER, SIGNATURE_HEADER, TOLERANCE_S, signed_request, ticket_view, verify
from bot.handoff.queue import HandoffQueue, Ticket, TicketError
from bot.language.texts import Texts
from bot.storage.stores import Dedupe
from bot.wiring.json_body import BadBody, json_body

MAX_BODY = 64 * 1024
MAX_TEXT = 2000  # as in the console
Change = Callable[[Desk, Ticket, dict[str, Any]], Awaitable[Ticket]]  # the caller's desk, its ticket, the body


class _Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def _json(request: Request) -> dict[str, Any]:
    """The body as a JSON object (empty body: {}); 400 for anything else, never a 500."""
    try:
        data = json_body(request.body or b"{}")
    except BadBody as error:
        raise _Refused(400, str(error)) from None
    if not isinstance(data, dict):
        raise _Refused(400, "the body must be a JSON object")
    return data


def _text(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise _Refused(400, f"{field} must be text, 1 to {MAX_TEXT} characters")
    return value.strip()


def _counsellor(desk: Desk) -> str:
    return f"partner:{desk.helpline}"


def partner_api(
    queue: HandoffQueue, desks: Desks, seen: Dedupe, texts: Texts, outcomes: Outcomes, audit: AuditLog
) -> Blueprint:
    """The routes under /partner/v1; ``seen`` remembers the signatures already used; closing takes
    an outcome code of data/outcomes.yml and tells the child in ``texts``; claims and closes go to
    ``audit``."""
    api = Blueprint("partner_api", url_prefix="/partner/v1")

    async def caller(request: Request, once: bool) -> Desk:
        """The desk whose secret signed this request."""
        if len(request.body) > MAX_BODY:
            raise _Refused(413, f"the body is over {MAX_BODY} bytes")
        desk = desks.get(request.headers.get(DESK_HEADER))
        header = request.headers.get(SIGNATURE_HEADER, "")
        if (
            desk is None
            or desk.webhook is None
            or not verify(
                desk.webhook.secret, header, signed_request(request.method, request.path, request.body), time.time()
            )
        ):
            raise _Refused(401, f"{DESK_HEADER} and {SIGNATURE_HEADER} must name a desk and sign this request, now")
        if once and not await seen.first_time(f"{desk.helpline}:{header}", 2 * TOLERANCE_S):
            raise _Refused(401, "this signature was used already: sign each change afresh")
        return desk

    async def own(desk: Desk, ticket_id: str) -> Ticket:
        ticket = await queue.get(ticket_id)
        if ticket is None or ticket.helpline != desk.helpline:
            raise _Refused(404, "no such ticket")
        return ticket

    async def answer(work: Callable[[], Awaitable[dict[str, Any]]]) -> HTTPResponse:
        try:
            return response.json(await work())
        except _Refused as refused:
            return response.json({"error": refused.error}, status=refused.status)
        except UnknownOutcome as error:
            return response.json({"error": str(error)}, status=400)
        except TicketError as error:
            return response.json({"error": str(error)}, status=409)

    def change(request: Request, ticket_id: str, act: Change, audited: str = "") -> Awaitable[HTTPResponse]:
        """``act`` on the caller's ticket; ``audited``: what to write in the audit log (claim, close)."""

        async def work() -> dict[str, Any]:
            desk = await caller(request, once=True)
            data, ticket = _json(request), await own(desk, ticket_id)
            changed = await act(desk, ticket, data)
            if audited:
                entry = AuditEntry(_counsellor(desk), "partner", audited, changed.id, outcome=changed.outcome or "")
                await audit.write(desk.helpline, entry)
            return {"ticket": ticket_view(changed)}

        return answer(work)

    @api.get("/tickets/<ticket_id>")
    async def read(request: Request, ticket_id: str) -> HTTPResponse:
        async def work() -> dict[str, Any]:  # reading changes nothing: its signature may be reused while fresh
            ticket = await own(await caller(request, once=False), ticket_id)
            said = await queue.messages(ticket.id)
            return {"ticket": ticket_view(ticket), "messages": [{"author": a, "text": t} for a, t in said]}

        return await answer(work)

    @api.post("/tickets/<ticket_id>/claim")
    async def claim(request: Request, ticket_id: str) -> HTTPResponse:
        return await change(request, ticket_id, lambda desk, t, _: queue.claim(t.id, _counsellor(desk)), "claim")

    @api.post("/tickets/<ticket_id>/messages")
    async def write(request: Request, ticket_id: str) -> HTTPResponse:
        return await change(
            request, ticket_id, lambda desk, t, data: queue.reply(t.id, _counsellor(desk), _text(data, "text"))
        )

    @api.post("/tickets/<ticket_id>/close")
    async def close(request: Request, ticket_id: str) -> HTTPResponse:
        return await change(
            request,
            ticket_id,
            lambda _, t, data: end_handoff(queue, texts, outcomes, t.id, _text(data, "outcome")),
            "close",
        )

    return api
