"""Rasa's endpoint calls keep their connections (channels/kept_sessions.py), against a real server."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig

import channels.kept_sessions as kept_sessions


class Counting:
    """An HTTP server that answers every POST with what it was sent, and counts the connections it saw."""

    def __init__(self) -> None:
        self.connections: set[int] = set()
        self.calls = 0
        self.headers: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        self.connections.add(id(request.transport))
        self.calls += 1
        self.headers.append(dict(request.headers))
        return web.json_response({"got": await request.json()})


@pytest.fixture
async def server() -> AsyncIterator[tuple[Counting, str]]:
    counting = Counting()
    app = web.Application()
    app.router.add_post("/webhook", counting.handle)
    runner = web.AppRunner(app, keepalive_timeout=30)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield counting, f"http://127.0.0.1:{port}/webhook"
    await kept_sessions.close()
    await runner.cleanup()


@pytest.fixture(autouse=True)
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EndpointConfig, "session", kept_sessions.session)


async def test_calls_in_a_row_share_one_connection_and_get_their_answers(server: tuple[Counting, str]) -> None:
    counting, url = server
    endpoint = EndpointConfig(url, headers={"X-Test": "yes"})
    answers = [await endpoint.request(json={"n": n}, method="post") for n in range(5)]
    assert answers == [{"got": {"n": n}} for n in range(5)]
    assert counting.calls == 5 and len(counting.connections) == 1
    assert all(h.get("X-Test") == "yes" for h in counting.headers)


async def test_calls_at_once_each_get_their_own_answer(server: tuple[Counting, str]) -> None:
    counting, url = server
    endpoint = EndpointConfig(url)
    answers = await asyncio.gather(*(endpoint.request(json={"n": n}, method="post") for n in range(10)))
    assert answers == [{"got": {"n": n}} for n in range(10)]
    assert len(counting.connections) <= 10


async def test_an_idle_connection_is_closed_by_this_side_and_the_next_call_opens_another(
    server: tuple[Counting, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kept_sessions, "IDLE_S", 0.2)
    counting, url = server
    endpoint = EndpointConfig(url)
    await endpoint.request(json={"n": 1}, method="post")
    await asyncio.sleep(0.6)
    assert await endpoint.request(json={"n": 2}, method="post") == {"got": {"n": 2}}
    assert len(counting.connections) == 2


async def test_a_server_that_closes_each_connection_is_still_answered(server: tuple[Counting, str]) -> None:
    counting, url = server
    endpoint = EndpointConfig(url, headers={"Connection": "close"})
    answers = [await endpoint.request(json={"n": n}, method="post") for n in range(3)]
    assert answers == [{"got": {"n": n}} for n in range(3)]
    assert len(counting.connections) == 3


async def test_each_endpoint_keeps_its_own_session_with_its_own_settings(server: tuple[Counting, str]) -> None:
    counting, url = server
    first, second = EndpointConfig(url, headers={"X-Who": "first"}), EndpointConfig(url, headers={"X-Who": "second"})
    await first.request(json={}, method="post")
    await second.request(json={}, method="post")
    await first.request(json={}, method="post")
    assert [h["X-Who"] for h in counting.headers] == ["first", "second", "first"]
    assert len(counting.connections) == 2


async def test_close_closes_the_sessions_and_a_later_call_makes_a_new_one(server: tuple[Counting, str]) -> None:
    counting, url = server
    endpoint = EndpointConfig(url)
    async with endpoint.session() as first:
        pass
    await kept_sessions.close()
    assert first.closed
    assert await endpoint.request(json={"n": 1}, method="post") == {"got": {"n": 1}}
    async with endpoint.session() as second:
        assert second is not first and not second.closed
