"""The HTTP channel for web chats and tests: Rasa's ``rest`` webhook, made safe for children's text.

Compared with Rasa's RestInput it refuses malformed bodies with a clear 400 instead of a 500,
treats a leading "/" as text (so nobody can type ``/restart`` or ``/self_harm`` into Rasa's intent
shortcut), bounds the length of messages, and accepts hints in ``metadata``: ``language``,
``country`` and ``phone``. Like every channel, it never answers with nothing: if Rasa or the
action server fails or is slow, the reply is the helpline and emergency number (``channels.safe_turn``).
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Optional, Sequence

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.language.input_text import clean
from bot.routing.hints import BadHints, ChannelHints
from bot.wiring.json_body import BadBody, json_body
from channels.safe_turn import DEFAULT_TIMEOUT_S, CountingOutput
from channels.services import services
from channels.webhook import webhook_blueprint

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_SENDER_CHARS = 128


class BadRequest(ValueError):
    """A request body we cannot use; the message tells the client what to fix."""


def json_object(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object, or BadRequest saying what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json_body(body)
    except BadBody as error:
        raise BadRequest(str(error)) from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def message_and_hints(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(cleaned text, metadata) of a message body, or BadRequest for a message or hint of the wrong shape."""
    message, metadata = data.get("message"), data.get("metadata")
    if message is not None and not isinstance(message, str):
        raise BadRequest("'message' must be a string")
    try:
        ChannelHints.from_metadata(metadata)
    except BadHints as exc:
        raise BadRequest(str(exc)) from None
    return clean(message), dict(metadata or {})


def parse_body(body: bytes) -> tuple[str, str, Optional[dict[str, Any]]]:
    """(sender, cleaned text, metadata) from a JSON body, or BadRequest saying what is wrong."""
    data = json_object(body)
    sender = data.get("sender")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        raise BadRequest(f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters")
    text, metadata = message_and_hints(data)
    return sender.strip(), text, metadata


class RestOutput(CountingOutput):
    """Collects the replies in Rasa's rest format (``recipient_id``, ``text``, ``buttons``)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []

    @classmethod
    def name(cls) -> str:
        return "rest"

    async def deliver(self, recipient_id: str, text: str, buttons: Sequence[dict[str, Any]]) -> bool:
        self.messages.append(
            {"recipient_id": recipient_id, "text": text, **({"buttons": list(buttons)} if buttons else {})}
        )
        return True


class RestChannel(InputChannel):
    """``POST /webhooks/rest/webhook`` with ``{"sender", "message", "metadata"}``; replies as JSON."""

    def __init__(self, reply_timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.services = services()
        self._timeout_s = reply_timeout_s

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> "RestChannel":
        return cls(float((credentials or {}).get("reply_timeout_s") or DEFAULT_TIMEOUT_S))

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = webhook_blueprint(self)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, metadata = parse_body(request.body)
            except BadRequest as exc:
                return response.json({"error": str(exc)}, status=400)
            output = RestOutput()
            message = UserMessage(text, output, sender, input_channel=self.name(), metadata=metadata)
            await self.services.answer_in_request(on_new_message, message, output, self._timeout_s)
            return response.json(output.messages)

        return webhook
