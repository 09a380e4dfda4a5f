"""The web chat: a page a child opens in any browser, and the two routes behind it.

Unlike ``rest``, which only answers the request it gets, a web chat can be written to: what the
server starts (a counsellor's reply, a waiting-time notice) waits in the child's inbox
(``bot.storage.stores.Inbox``, in Redis when deployed) until the page fetches it with a long poll. So a
web child can be handed to a counsellor like a child on Telegram, SMS or WhatsApp.

A conversation is named by a random token the page makes and keeps in ``sessionStorage`` (gone
when the tab closes, which matters on a shared computer) and sends as a bearer token; the bot
only sees a keyed hash of it, so only the token's holder can write to or read the conversation.

    GET  /webhooks/web/chat?lang=fr&country=FR    the page (language and country are optional hints)
    POST /webhooks/web/webhook  {"message", "id"?, "metadata"?}   -> {"messages": [...], "erased"}
    GET  /webhooks/web/inbox?after=<id>                         -> {"messages": [...], "cursor"}
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, Sequence

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.delivery.transports import InboxTransport
from bot.routing.countries import is_country_code
from bot.storage.stores import STORE_FAULTS, check_cursor
from bot.wiring.faults import STORE_DOWN
from channels.rest import MAX_BODY_BYTES, BadRequest, json_object, message_and_hints
from channels.safe_turn import DEFAULT_TIMEOUT_S, CountingOutput
from channels.services import ChannelServices, services
from channels.webhook import webhook_blueprint

STATIC = Path(__file__).parent / "static"
PAGE, SCRIPT, STYLE = STATIC / "webchat.html", STATIC / "webchat.js", STATIC / "webchat.css"
PAGE_TEXTS = ("web_title", "web_message_label", "web_send", "web_leave", "web_not_sent", "web_if_stuck")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
POLL_WAIT_S = 25.0  # under the 30-60 s after which proxies commonly cut an idle request
STORE_DOWN_PAUSE_S = 2.0  # an inbox read that failed answers after this, so pages don't poll in a tight loop


class WebOutput(CountingOutput):
    """Collects the replies to the child's own message for the HTTP answer; anything after that
    answer (a turn past the reply limit, a counsellor's message) goes to the child's inbox."""

    def __init__(self, services: ChannelServices, collecting: bool = False) -> None:
        super().__init__()
        self._services = services
        self._collected: Optional[list[dict[str, Any]]] = [] if collecting else None

    @classmethod
    def name(cls) -> str:
        return "web"

    async def deliver(self, recipient_id: str, text: str, buttons: Sequence[dict[str, Any]]) -> bool:
        shown = [{"title": str(b["title"]), "payload": str(b["payload"])} for b in buttons]
        if self._collected is not None:
            self._collected.append({"text": text, "buttons": shown})
        else:
            await self._services.stores.inbox.put(
                recipient_id, text, shown, self._services.dialogue.retention.web_inbox_s
            )
        return True

    def take(self) -> list[dict[str, Any]]:
        """The replies collected so far; from now on, messages go to the inbox."""
        collected, self._collected = self._collected or [], None
        return collected


class WebChatChannel(InputChannel):
    """The web chat page and its routes (see the module's docstring)."""

    def __init__(self, reply_timeout_s: float = DEFAULT_TIMEOUT_S, poll_wait_s: float = POLL_WAIT_S) -> None:
        self.services = services()
        self._template = PAGE.read_text(encoding="utf-8")  # read once; filled in per language and country
        self._timeout_s = reply_timeout_s
        self._poll_wait_s = poll_wait_s

    @classmethod
    def name(cls) -> str:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> "WebChatChannel":
        credentials = credentials or {}
        return cls(
            float(credentials.get("reply_timeout_s") or DEFAULT_TIMEOUT_S),
            float(credentials.get("poll_wait_s") or POLL_WAIT_S),
        )

    def get_output_channel(self) -> OutputChannel:
        return WebOutput(self.services)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = webhook_blueprint(self)
        to_inbox = InboxTransport(self.services.stores.inbox, self.services.core.retention.web_inbox_s)
        self.services.attach(webhook, self.name(), to_inbox)

        @webhook.route("/chat", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            return response.html(
                self.page(
                    request.args.get("lang"), request.args.get("country"), request.headers.get("accept-language", "")
                ),
                headers=PAGE_HEADERS,
            )

        @webhook.route("/webchat.js", methods=["GET"])
        async def script(_: Request) -> HTTPResponse:
            return await response.file(SCRIPT, mime_type="text/javascript; charset=utf-8")

        @webhook.route("/webchat.css", methods=["GET"])
        async def style(_: Request) -> HTTPResponse:
            return await response.file(STYLE, mime_type="text/css; charset=utf-8")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            sender = self._sender(request)
            if sender is None:
                return _refused(
                    401, "send the chat's token as 'Authorization: Bearer <token>' (32-128 letters, digits, - or _)"
                )
            if len(request.body) > MAX_BODY_BYTES:
                return _refused(413, f"body is larger than {MAX_BODY_BYTES} bytes")
            try:
                data = json_object(request.body)
                text, metadata = message_and_hints(data)
                message_id = data.get("id")
                if message_id is not None and (not isinstance(message_id, str) or not _MESSAGE_ID.match(message_id)):
                    raise BadRequest("'id' must be 1-64 letters, digits, - or _")
            except BadRequest as exc:
                return _refused(400, str(exc))
            if message_id and not await self._first_time(f"web:{sender}:{message_id}"):
                return response.json({"messages": [], "erased": False, "repeated": True})
            return response.json(await self._turn(on_new_message, sender, text, {**metadata, "channel": self.name()}))

        @webhook.route("/inbox", methods=["GET"])
        async def inbox(request: Request) -> HTTPResponse:
            sender = self._sender(request)
            if sender is None:
                return _refused(401, "send the chat's token as 'Authorization: Bearer <token>'")
            after = request.args.get("after", "0-0")
            try:
                check_cursor(after)
            except ValueError as exc:
                return _refused(400, f"'after': {exc}")
            try:
                messages = await self.services.stores.inbox.read(sender, after, self._poll_wait_s)
            except STORE_FAULTS as error:  # nothing new can be known: the page asks again a little later
                self.services.faults.count(STORE_DOWN, error, "the web chat's inbox")
                await asyncio.sleep(min(self._poll_wait_s, STORE_DOWN_PAUSE_S))
                messages = []
            return response.json({"messages": messages, "cursor": messages[-1]["id"] if messages else after})

        return webhook

    async def _first_time(self, key: str) -> bool:
        """Whether a message id is new; when the store fails, treat it as new: a child answered
        twice is better than one not answered (the reply is the fail-safe one then anyway)."""
        try:
            return await self.services.stores.dedupe.first_time(key, self.services.dialogue.retention.dedupe_s)
        except STORE_FAULTS as error:
            self.services.faults.count(STORE_DOWN, error, "the web chat's dedupe")
            return True

    def _sender(self, request: Request) -> Optional[str]:
        """The keyed hash of the bearer token, or None if there is no well-formed one."""
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not _TOKEN.match(token.strip()):
            return None
        return self.services.sender_ids.of(self.name(), token.strip())

    async def _turn(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], sender: str, text: str, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """Run the child's message (after their earlier ones) and return the replies, as soon as
        there are some: a turn past the reply limit gets the fallback, and its late replies go to
        the inbox."""
        output = WebOutput(self.services, collecting=True)
        await self.services.answer_in_request(
            on_new_message,
            UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata),
            output,
            self._timeout_s,
        )
        messages = output.take()
        return {"messages": messages, "erased": output.erase_requested}

    def page(self, language: Optional[str], country: Optional[str], accept_language: str) -> str:
        """The chat page in the child's language, with their helpline's number written into it, so
        a child whose connection or our server fails still has a number to call."""
        dialogue = self.services.dialogue
        wanted = [language] + [part.split(";")[0] for part in accept_language.split(",")]
        chosen = next(filter(None, map(dialogue.registry.normalise, wanted)), dialogue.registry.default)
        country = country.upper() if country and is_country_code(country.upper()) else None
        hints = {key: value for key, value in (("language", chosen), ("country", country)) if value}
        values = {key: html.escape(dialogue.texts.get(key, chosen)) for key in PAGE_TEXTS}
        values.update(
            language=html.escape(chosen),
            direction="rtl" if chosen in RIGHT_TO_LEFT else "ltr",
            hints=html.escape(json.dumps(hints)),
            if_stuck="".join(f"<p>{html.escape(m.text)}</p>" for m in dialogue.numbers(chosen, country, self.name())),
        )
        return self._template.format(**values)


RIGHT_TO_LEFT = {"ar"}
# The page runs only its own script and style, and may not be framed by other sites (clickjacking).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _refused(status: int, reason: str) -> HTTPResponse:
    return response.json({"error": reason}, status=status)
