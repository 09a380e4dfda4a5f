"""The action server's own code answering Rasa's action calls in this process, through JSON as over
HTTP: the real bot (NLU, policies, the action, the tracker store) without servers."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from rasa.utils.endpoints import EndpointConfig


class InProcessActions(EndpointConfig):
    """The action endpoint answered by the action server's own code, through JSON as over HTTP."""

    def __init__(self, actions: ModuleType) -> None:
        from rasa_sdk.executor import ActionExecutor

        super().__init__("http://in-process/webhook")
        self.executor = ActionExecutor()
        self.executor.register_package(actions)
        self.sent: list[int] = []  # the size of each request: what the action server receives

    async def request(self, **kwargs: Any) -> Any:
        body = json.dumps(kwargs["json"])
        self.sent.append(len(body))
        answer = await self.executor.run(json.loads(body))
        return json.loads(json.dumps(answer))
