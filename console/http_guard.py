"""Refuse malformed HTTP framing with a 400 that says why, in both of our Sanic servers (the
console, and the Rasa server through our channels' blueprints: channels/webhook.py).

Sanic 21.12 (Rasa 3.6 pins it) reads a request's head and then trusts it. Found by fuzzing
(tests/test_fuzz.py), against the Rasa server and the console alike:

- ``Content-Length: -1`` made it read the body forever in a loop that never waits: one request
  froze the whole process at full CPU, every child's message with it, and SIGTERM could not stop it;
- ``Content-Length: abc`` (or ``1e3``) answered 500, from ``int()`` of the header;
- ``Transfer-Encoding: gzip`` without a Content-Length answered 500 (a KeyError);
- a request target with a byte that is not ASCII, or a control character, closed the connection
  without any answer: the URL failed to parse again while building the error page;
- a malformed chunk was answered 400, then read again "to consume the body", which logged a
  traceback (``protocol.connection_task uncaught``) for each such request.

Each is now a 400 with the reason, before any of the body is read, and the connection is closed
after it (the rest of what was sent cannot be trusted). So are a Content-Length given twice with
different values and one sent together with ``Transfer-Encoding``, which proxies and Sanic could
each read their own way (request smuggling).
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable, Optional

from httptools import HttpParserError
from sanic.exceptions import InvalidUsage
from sanic.http import Http

_INSTALLED = "_helpline_guarded"
_DIGITS = re.compile(r"[0-9]+")  # RFC 9110: 1*DIGIT (int() also takes "+5", "1_0", "١"); too many: 413


def install() -> None:
    """Check every request's head and chunks in this process's Sanic servers; once, whoever asks first.

    Call it from a ``before_server_start`` listener: at start-up Sanic recompiles these methods from
    their source (sanic.touchup), which would drop a wrapper installed before."""
    if getattr(Http, _INSTALLED, False):
        return
    sanic_read_head: Callable[[Http], Awaitable[None]] = Http.http1_request_header
    sanic_read_body: Callable[[Http], Awaitable[Optional[bytes]]] = Http.read

    async def read_head(http: Http) -> None:
        try:
            await sanic_read_head(http)
            reason = _framing_problem(http)
        except (ValueError, KeyError, HttpParserError) as error:
            reason = _parse_problem(error)
        if reason:
            http.request_body = None  # read nothing more of this request
            http.keep_alive = False
            http.url = "/"  # Sanic builds its error page's request from this; the real one did not parse
            raise InvalidUsage(reason)

    async def read_body(http: Http) -> Optional[bytes]:
        try:
            return await sanic_read_body(http)
        except InvalidUsage:  # a malformed chunk: after the 400, read nothing more of it
            http.request_body = None
            http.keep_alive = False
            raise

    Http.http1_request_header = read_head  # type: ignore[method-assign]
    Http.read = read_body  # type: ignore[method-assign, assignment]
    setattr(Http, _INSTALLED, True)


def _framing_problem(http: Http) -> str:
    """What is wrong with a parsed head's framing; "" when nothing is."""
    headers: Any = http.request.headers
    lengths = set(headers.getall("content-length", []))
    if len(lengths) > 1:
        return "Content-Length is given more than once, with different values"
    if lengths and "transfer-encoding" in headers:
        return "send either Content-Length or Transfer-Encoding, not both"
    if any(not _DIGITS.fullmatch(length) for length in lengths):
        return "Content-Length must be a whole number of bytes (0 or more)"
    return ""


def _parse_problem(error: Exception) -> str:
    if isinstance(error, UnicodeError):
        return "the request target must be ASCII: percent-encode other bytes"
    if isinstance(error, HttpParserError):
        return "the request target is not a valid URL (control characters must be percent-encoded)"
    if isinstance(error, KeyError):
        return "a request with a body needs Content-Length, or Transfer-Encoding: chunked"
    return "Content-Length must be a whole number of bytes (0 or more)"
