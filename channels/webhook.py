"""The part every one of our channels' blueprints shares: Rasa's naming, a health route (with the
process's fault counts), and, once the model is loaded, the start-up objects frozen
(bot.wiring.heap) and Rasa's tracker store made to fail turns it cannot serve
(channels.tracker_store.fail_loudly); malformed HTTP framing is refused with a reason (console.http_guard)."""

from __future__ import annotations

import inspect

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.wiring.heap import freeze_startup_objects
from channels.services import services
from channels.tracker_store import fail_loudly
from console import http_guard


def webhook_blueprint(channel: InputChannel) -> Blueprint:
    """A blueprint named as Rasa names custom channels, answering ``GET /webhooks/<name>/``."""
    module = inspect.getmodule(channel)
    blueprint = Blueprint(f"custom_webhook_{type(channel).__name__}", module.__name__ if module else None)

    @blueprint.route("/", methods=["GET"])
    async def health(_: Request) -> HTTPResponse:
        """For the operator and load balancers: 503 once the server is stopping, else 200 (also
        while Redis is down: the server still gives fail-safe replies), with Redis's state and this
        process's faults since it started (bot.wiring.faults)."""
        state = services().health()
        return response.json(state, status=503 if state["status"] == "stopping" else 200)

    @blueprint.listener("after_server_start")  # Rasa loads the model before the server starts
    async def settle(app: Sanic, _: object) -> None:
        freeze_startup_objects()
        agent = getattr(app.ctx, "agent", None)
        fail_loudly(agent.tracker_store if agent is not None else None)

    @blueprint.listener("before_server_start")  # malformed framing: a 400 with the reason (console.http_guard)
    async def guard(*_: object) -> None:
        http_guard.install()

    return blueprint
