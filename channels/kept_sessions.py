"""Rasa's calls to the action server reuse their connections.

Rasa 3.6's ``EndpointConfig.request`` opens a new ``aiohttp.ClientSession`` for every call, so every
message paid for a new TCP connection to the action server (through the load balancer), its
set-up and tear-down, on both sides: in the cluster benchmark (one Rasa server, SMS, 20 children,
three rounds) the Rasa server's CPU went from 19.7 to 18.6 ms a message (see README, "Many servers").

Here each endpoint keeps one session per event loop (a session belongs to the loop it was made in),
made with the same headers, authentication and time limit as Rasa's. A connection idle for
``IDLE_S`` is closed by this side, well before a server or a proxy would close it (sanic's
keep-alive limit is 5 s, HAProxy's ``timeout http-request`` 10 s in scripts/cluster.py): a call
never goes out on a connection the other side has just closed. The sessions are closed when the
server stops (:func:`close`).
"""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType
from typing import Optional

import aiohttp
from rasa.utils import endpoints
from rasa.utils.endpoints import EndpointConfig

IDLE_S = 1.0  # a connection unused this long is closed (shorter than any server's keep-alive limit)

# per event loop: id(config) -> (the config, weakly: an id can be reused once it is gone; its session)
_Sessions = dict[int, tuple["weakref.ref[EndpointConfig]", aiohttp.ClientSession]]
_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sessions]" = weakref.WeakKeyDictionary()


class _Kept:
    """What ``async with config.session()`` gets: the kept session, left open on exit."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(
        self, kind: Optional[type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        return None


def session(config: EndpointConfig) -> _Kept:
    """The endpoint's session in the running event loop, made on first use."""
    loop = asyncio.get_running_loop()
    kept = _sessions.setdefault(loop, {})
    owner, found = kept.get(id(config), (None, None))
    if found is None or found.closed or owner is None or owner() is not config:
        auth = None
        if config.basic_auth:
            auth = aiohttp.BasicAuth(config.basic_auth["username"], config.basic_auth["password"])
        found = aiohttp.ClientSession(
            headers=config.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_S),
        )
        kept[id(config)] = (weakref.ref(config), found)
    return _Kept(found)


async def close() -> None:
    """Close the sessions of the running event loop (the server is stopping)."""
    kept = _sessions.pop(asyncio.get_running_loop(), {})
    for _, found in kept.values():
        await found.close()


def install() -> None:
    """Rasa's endpoints use the kept sessions (channels/__init__.py)."""
    EndpointConfig.session = session
