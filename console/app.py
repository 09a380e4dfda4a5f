"""The console's HTTP API (JSON), for counsellors: thin over bot.handoff.queue and bot.handoff.counsellors.

Every request but login needs the session cookie; every change also needs the session's CSRF
token in ``X-CSRF-Token``. A counsellor only ever reaches their own helpline's tickets: another
helpline's ticket answers 404, as if it did not exist. Who may claim, take over, transfer, write
to and close which conversation is bot.handoff.casework's to say (403 with the reason otherwise),
and each of those but writing is in the audit log (``GET /api/audit``, supervisors and admins).
Failed logins are throttled per account and per client address (bot.handoff.logins): a refused
login is answered late, and a locked one with 429 and Retry-After. ``/api/events`` streams the helpline's
ticket events (Server-Sent Events) straight from its Redis stream, so every console process sees
what any bot or console process did, without polling.

    REDIS_URL=redis://127.0.0.1:6379/0 python -m console   # http://127.0.0.1:5080
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Optional

from redis.exceptions import RedisError
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.delivery.outbox import Status
from bot.handoff.canned import CannedReplies
from bot.handoff.casework import BadRequest, Casework, NotAllowed, Refused, Unknown
from bot.handoff.counsellors import SESSION_TTL_S, Session
from bot.handoff.logins import client_address, refusal
from bot.handoff.outcomes import HANDED_BACK, UnknownOutcome
from bot.handoff.queue import Event, Said, Ticket, TicketError
from bot.privacy.secret_compare import same_secret
from bot.storage.stores import STORE_FAULTS, is_cursor
from bot.wiring.faults import STORE_DOWN
from bot.wiring.json_body import BadBody, json_body
from bot.wiring.services import Services
from bot.wiring.settings import Settings
from console import http_guard
from console.admin import admin_pages
from console.cookies import cookie_value
from console.partner_api import partner_api

COOKIE = "helpline_session"
STATIC = Path(__file__).parent / "static"
# The page runs only its own script: no inline code, no other origin, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MAX_TEXT = 2000
EVENT_WAIT_MS = 15_000  # an idle event stream sends a comment this often, so proxies keep it open
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")  # the page makes one per message it sends
AUDIT_PAGE = 100  # audit entries per answer unless asked (limit), at most AUDIT_PAGE_MAX
AUDIT_PAGE_MAX = 500
REFUSED_STATUS = {NotAllowed: 403, BadRequest: 400, Unknown: 404}


def summary(ticket: Ticket, position: Optional[int] = None) -> dict[str, Any]:
    """What a counsellor sees of a ticket: never an address, only the hashed conversation id."""
    return {
        "id": ticket.id,
        "risk": int(ticket.risk),
        "reason": ticket.reason,
        "language": ticket.language,
        "channel": ticket.channel,
        "country": ticket.country,
        "state": ticket.state.value,
        "counsellor": ticket.counsellor,
        "waiting_s": round(time.time() - ticket.created_at),
        "intake": ticket.intake,
        "last_messages": list(ticket.last_messages),
        "position": position,
    }


def message_view(said: Said, status: Optional[Status]) -> dict[str, Any]:
    """One message of the conversation; a message to the child has its delivery state (queued,
    sent, delivered, failed) and, failed or retried, the reason."""
    shown: dict[str, Any] = {"author": said.author, "text": said.text}
    if status is not None:
        shown["delivery"] = {"state": status.state.value, "reason": status.reason}
    return shown


def create_app(services: Services) -> Sanic:
    """The console over ``services`` (bot.wiring), which must have Redis: the bot's own."""
    app = Sanic("helpline_console")
    app.register_listener(lambda *_: http_guard.install(), "before_server_start")  # framing: 400s, with reasons
    desks, queue, counsellors, texts = services.desks, services.queue, services.counsellors, services.texts
    outcomes, canned = services.outcomes, CannedReplies.load(services.registry.codes)
    casework = Casework(queue, counsellors, services.audit, texts, outcomes)
    proxies = services.settings.proxies
    app.blueprint(
        partner_api(queue, desks, services.redis_dedupe("partner"), texts, outcomes, services.audit)
    )  # helplines' own systems

    async def session_of(request: Request, change: bool) -> Optional[Session]:
        session = await counsellors.session(cookie_value(request.headers.getall("cookie", []), COOKIE))
        if session and change and not same_secret(request.headers.get("X-CSRF-Token"), session.csrf):
            return None
        return session

    stats = services.counter  # the bot's counters (bot.stats)
    app.blueprint(admin_pages(session_of, stats, SECURITY_HEADERS))  # /admin: the statistics, for admins

    def body(request: Request) -> dict[str, Any] | HTTPResponse:
        """The body as a JSON object (none: {}), or the 400 saying why it is not one."""
        try:
            data = json_body(request.body or b"{}")
        except BadBody as error:
            return response.json({"error": str(error)}, status=400)
        return data if isinstance(data, dict) else response.json({"error": "body must be a JSON object"}, status=400)

    async def readable(request: Request, ticket_id: str) -> Ticket | HTTPResponse:
        """The session's own ticket, or the refusal to answer with (401, or 404 as if it did not exist)."""
        session = await session_of(request, change=False)
        if session is None:
            return response.json({"error": "log in first"}, status=401)
        try:
            return await casework.ticket(session, ticket_id)
        except Unknown as error:
            return response.json({"error": str(error)}, status=404)

    @app.get("/")
    async def page(_: Request) -> HTTPResponse:
        return await response.file(STATIC / "index.html", headers=SECURITY_HEADERS)

    @app.get("/console.js")
    async def script(_: Request) -> HTTPResponse:
        return await response.file(STATIC / "console.js", headers=SECURITY_HEADERS)

    @app.get("/console.css")
    async def style(_: Request) -> HTTPResponse:  # shared with the admin page
        return await response.file(STATIC / "console.css", headers=SECURITY_HEADERS)

    @app.post("/api/login")
    async def login(request: Request) -> HTTPResponse:
        data = body(request)
        if isinstance(data, HTTPResponse):
            return data
        address = client_address(request.ip, request.headers.get("X-Forwarded-For"), proxies)
        attempt = await counsellors.login(str(data.get("username", "")), str(data.get("password", "")), address)
        session = attempt.session
        if session is None:
            await asyncio.sleep(attempt.delay_s)  # the guesser waits; no CPU is spent on it meanwhile
            if attempt.retry_after_s:
                return response.json(
                    {"error": refusal(attempt.locked, attempt.retry_after_s), "retry_after_s": attempt.retry_after_s},
                    status=429,
                    headers={"Retry-After": str(attempt.retry_after_s)},
                )
            return response.json({"error": "wrong username or password"}, status=401)
        answer = response.json(
            {"username": session.username, "helpline": session.helpline, "role": session.role, "csrf": session.csrf}
        )
        answer.cookies[COOKIE] = session.token
        cookie = answer.cookies[COOKIE]
        cookie["httponly"], cookie["samesite"], cookie["secure"], cookie["max-age"] = (
            True,
            "Strict",
            True,
            SESSION_TTL_S,
        )
        return answer

    @app.post("/api/logout")
    async def logout(request: Request) -> HTTPResponse:
        session = await session_of(request, change=True)
        if session:
            await counsellors.logout(session.token)
        return response.json({"ok": True})

    @app.get("/api/queue")
    async def waiting(request: Request) -> HTTPResponse:
        session = await session_of(request, change=False)
        if session is None:
            return response.json({"error": "log in first"}, status=401)
        tickets = await queue.waiting(session.helpline)
        return response.json(
            {"helpline": session.helpline, "waiting": [summary(t, i + 1) for i, t in enumerate(tickets)]}
        )

    @app.get("/api/tickets/<ticket_id>/messages")
    async def messages(request: Request, ticket_id: str) -> HTTPResponse:
        ticket = await readable(request, ticket_id)
        if isinstance(ticket, HTTPResponse):
            return ticket
        said = await queue.transcript(ticket_id)
        states = await services.outbox.status([s.delivery for s in said if s.delivery])
        shown = [message_view(s, states.get(s.delivery)) for s in said]
        return response.json({"ticket": summary(ticket), "messages": shown})

    @app.get("/api/outcomes")
    async def outcome_list(request: Request) -> HTTPResponse:
        if await session_of(request, change=False) is None:
            return response.json({"error": "log in first"}, status=401)
        return response.json({"outcomes": [{"code": o.code, "label": o.label} for o in outcomes.all()]})

    @app.get("/api/tickets/<ticket_id>/canned")
    async def canned_replies(request: Request, ticket_id: str) -> HTTPResponse:
        """Prepared replies in the child's language, each with its English meaning for the counsellor."""
        ticket = await readable(request, ticket_id)
        if isinstance(ticket, HTTPResponse):
            return ticket
        found = canned.for_language(ticket.language)
        return response.json({"replies": [{"key": k, "text": t, "english": canned.english(k)} for k, t in found]})

    @app.get("/api/events")
    async def events(request: Request) -> Optional[HTTPResponse]:
        session = await session_of(request, change=False)
        if session is None:
            return response.json({"error": "log in first"}, status=401)
        stream = await request.respond(
            content_type="text/event-stream", headers={"Cache-Control": "no-store", **SECURITY_HEADERS}
        )
        await stream.send("retry: 1000\n\n")  # at once: the page knows it is connected, and comes back in 1 s
        after = request.headers.get("Last-Event-ID", "")  # a reconnecting page picks up where it left off
        try:
            if not is_cursor(after):  # a Redis stream id, as the page echoes it back
                after = await queue.last_event(session.helpline)
            while await counsellors.session(session.token):  # ends when the session does
                for event in await queue.events(session.helpline, after, block_ms=EVENT_WAIT_MS) or [None]:
                    if event is None:
                        await stream.send(": still here\n\n")
                        continue
                    after = event.id
                    await stream.send(sse(event))
        except STORE_FAULTS as error:  # Redis down, or its waiting connections all taken: the page reconnects
            services.faults.count(STORE_DOWN, error, "the console's event stream")
        await stream.eof()
        return None

    @app.post("/api/tickets/<ticket_id>/<action:claim|takeover|reply|transfer|close|handback>")
    async def change(request: Request, ticket_id: str, action: str) -> HTTPResponse:
        session = await session_of(request, change=True)
        if session is None:
            return response.json({"error": "log in first (and send X-CSRF-Token)"}, status=401)
        data = body(request)
        if isinstance(data, HTTPResponse):
            return data
        key = data.get("key") or ""
        if key and not (isinstance(key, str) and IDEMPOTENCY_KEY.match(key)):
            return response.json({"error": "key must be 8-64 letters, digits, - or _"}, status=400)

        def said(name: str) -> str:
            return str(data.get(name) or "").strip()[:MAX_TEXT]

        try:
            if action == "claim":
                ticket = await casework.claim(session, ticket_id)
            elif action == "takeover":
                ticket = await casework.take_over(session, ticket_id)
            elif action == "transfer":
                ticket = await casework.transfer(session, ticket_id, to=said("to"), desk=said("desk"))
            elif action == "handback":
                ticket = await casework.close(session, ticket_id, HANDED_BACK)
            else:  # reply or close: with what
                name = "text" if action == "reply" else "outcome"
                if not said(name):
                    raise BadRequest(f"say what: {name}")
                if action == "reply":
                    ticket = await casework.reply(session, ticket_id, said(name), key)  # sent once per key
                else:
                    ticket = await casework.close(session, ticket_id, said(name))
        except Refused as refused:
            return response.json({"error": str(refused)}, status=REFUSED_STATUS[type(refused)])
        except UnknownOutcome as error:
            return response.json({"error": str(error)}, status=400)
        except TicketError as error:
            return response.json({"error": str(error)}, status=409)
        return response.json({"ticket": summary(ticket)})

    @app.get("/api/audit")
    async def audit(request: Request) -> HTTPResponse:
        """The helpline's audit log, newest first: ``limit`` entries (at most 500), ``before`` an entry's id."""
        session = await session_of(request, change=False)
        if session is None:
            return response.json({"error": "log in first"}, status=401)
        limit, before = request.args.get("limit", str(AUDIT_PAGE)), request.args.get("before", "")
        if not limit.isdigit() or not 1 <= int(limit) <= AUDIT_PAGE_MAX:
            return response.json({"error": f"limit must be a whole number from 1 to {AUDIT_PAGE_MAX}"}, status=400)
        if before and not is_cursor(before):
            return response.json({"error": "before must be an entry's id, such as 1767225600000-0"}, status=400)
        try:
            found = await casework.entries(session, int(limit), before)
        except NotAllowed as error:
            return response.json({"error": str(error)}, status=403)
        entries = [entry.to_dict() for entry in found]
        more = len(found) == int(limit)
        return response.json(
            {"helpline": session.helpline, "entries": entries, "next": entries[-1]["id"] if more else None},
            headers={"Cache-Control": "no-store"},
        )

    @app.exception(RedisError)
    async def store_down(_: Request, error: Exception) -> HTTPResponse:
        """Redis refused, frozen or slow: a 503 with a reason the page shows, not a bare 500."""
        services.faults.count(STORE_DOWN, error, "the console")
        return response.json({"error": "the queue cannot be reached just now: try again in a moment"}, status=503)

    return app


def sse(event: Event) -> str:
    """One Server-Sent Event: which ticket changed and how; the page fetches what it shows."""
    return f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps({'ticket': event.ticket})}\n\n"


def main() -> int:
    settings = Settings.from_environ()
    if settings.in_memory:
        print(
            "REDIS_URL must be set: the console shares the bot's Redis (e.g. redis://127.0.0.1:6379/0)", file=sys.stderr
        )
        return 1
    create_app(Services(settings)).run(host=settings.console_host, port=settings.console_port, access_log=False)
    return 0
