"""The part every one of our channels' blueprints shares: Rasa's naming, a health route (with the
process's fault counts), the start-up objects frozen once the model is loaded (bot.wiring.heap),
and malformed HTTP framing refused with a reason (console.http_guard)."""

from __future__ import annotations

import inspect

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.wiring.heap import freeze_startup_objects
from channels.services import services
from console import http_guard


def webhook_blueprint(channel: InputChannel) -> Blueprint:
    """A blueprint named as Rasa names custom channels, answering ``GET /webhooks/<name>/``."""
    module = inspect.getmodule(channel)
    blueprint = Blueprint(f"custom_webhook_{type(channel).__name__}", module.__name__ if module else None)

    @blueprint.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        """Up, with this process's faults since it started (bot.wiring.faults), for the operator."""
        return response.json({"status": "ok", "faults": services().faults.counts()})

    @blueprint.listener("after_server_start")  # Rasa loads the model before the server starts
    async def settle(*_: object) -> None:
        freeze_startup_objects()

    @blueprint.listener("before_server_start")  # malformed framing: a 400 with the reason (console.http_guard)
    async def guard(*_: object) -> None:
        http_guard.install()

    return blueprint
