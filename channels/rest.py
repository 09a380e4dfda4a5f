"""The HTTP channel for web chats and tests: Rasa's ``rest`` webhook, made safe for children's text.

Compared with Rasa's RestInput it refuses malformed bodies with a clear 400 instead of a 500,
treats a leading "/" as text (so nobody can type ``/restart`` or ``/self_harm`` into Rasa's intent
shortcut), bounds the length of messages, and accepts hints in ``metadata``: ``language``,
``country`` and ``phone``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.hints import BadHints, ChannelHints
from bot.input_text import clean
from bot.privacy import asks_to_erase
from bot.stores import stores_from_env
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
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("body must be UTF-8 JSON") from None
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


class RestChannel(InputChannel):
    """``POST /webhooks/rest/webhook`` with ``{"sender", "message", "metadata"}``; replies as JSON."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = webhook_blueprint(self)
        conversations = stores_from_env().conversations

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, metadata = parse_body(request.body)
            except BadRequest as exc:
                return response.json({"error": str(exc)}, status=400)
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
            )
            if any(asks_to_erase(m.get("custom")) for m in collector.messages):
                await conversations.delete(sender)  # a web chat keeps nothing else
            return response.json([m for m in collector.messages if "custom" not in m])

        return webhook
