"""A tiny HTTP/1.1 client over a raw socket, for requests no well-behaved client would send.

urllib, httpx and requests refuse a header with a newline or a byte that is not ASCII, fix up a
Content-Length that lies, and encode the path themselves. The fuzz tests need to send exactly
those, so this writes the bytes it is given, one request per connection, and reads one answer.
A server that closes the connection or stays silent gives :class:`NoAnswer` with the reason.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Sequence, Union
from urllib.parse import urlsplit

Text = Union[str, bytes]
AUTO = object()  # Content-Length: the body's real length
MAX_ANSWER = 16 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case, values as latin-1 text
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class NoAnswer(Exception):
    """The server sent no (complete) status line; the message says what happened instead."""


def _bytes(value: Text) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def encode_request(
    method: Text,
    target: Text,
    headers: Sequence[tuple[Text, Text]] = (),
    body: bytes = b"",
    content_length: Any = AUTO,
    host: Text = "127.0.0.1",
) -> bytes:
    """The request's bytes as given: ``content_length`` None sends no Content-Length header, any
    other value is sent as it is (a lie, a word, a negative number); by default the body's length,
    left out as browsers do for a GET or HEAD without a body."""
    lines = [_bytes(method) + b" " + _bytes(target) + b" HTTP/1.1", b"Host: " + _bytes(host), b"Connection: close"]
    lines += [_bytes(name) + b": " + _bytes(value) for name, value in headers]
    if content_length is AUTO:
        if body or _bytes(method) not in (b"GET", b"HEAD"):
            lines.append(b"Content-Length: " + str(len(body)).encode())
    elif content_length is not None:
        lines.append(
            b"Content-Length: " + _bytes(str(content_length) if isinstance(content_length, int) else content_length)
        )
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def exchange(address: tuple[str, int], raw: bytes, timeout_s: float = 30.0, half_close: bool = False) -> Answer:
    """Send ``raw`` on a new connection and read one answer (NoAnswer when there is none).

    ``half_close`` tells the server nothing more is coming (for a Content-Length that promises more
    than was sent: else the server rightly waits for the rest). A streamed answer (Server-Sent
    Events) is read up to its headers: its status is what counts."""
    with socket.create_connection(address, timeout=timeout_s) as connection:
        try:
            connection.sendall(raw)
        except OSError as error:  # the server may answer and close before taking the whole body
            received = _read_some(connection)
            if not received:
                raise NoAnswer(f"closed while sending ({type(error).__name__})") from None
            return _parse(connection, received, timeout_s)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        return _parse(connection, b"", timeout_s)


def _read_some(connection: socket.socket) -> bytes:
    try:
        return connection.recv(65536)
    except OSError:
        return b""


def _parse(connection: socket.socket, received: bytes, timeout_s: float) -> Answer:
    deadline = time.monotonic() + timeout_s
    while b"\r\n\r\n" not in received:
        chunk = _recv(connection, deadline)
        if not chunk:
            raise NoAnswer("closed without an answer" if not received else f"closed mid-answer: {received[:80]!r}")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise NoAnswer(f"not an HTTP answer: {status_line[:80]!r}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(parts[1])
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"
    if headers.get("content-type", "").startswith("text/event-stream"):  # endless: up to its first event
        while b"\n\n" not in (_unchunked(body) if chunked else body):
            chunk = _recv(connection, deadline)
            if not chunk:
                break
            body += chunk
        return Answer(status, headers, _unchunked(body) if chunked else body)
    if "content-length" in headers and headers["content-length"].isdigit():
        length = min(int(headers["content-length"]), MAX_ANSWER)
        while len(body) < length:
            chunk = _recv(connection, deadline)
            if not chunk:
                break
            body += chunk
        return Answer(status, headers, body[:length])
    while len(body) < MAX_ANSWER:  # chunked or until closed (Connection: close)
        chunk = _recv(connection, deadline)
        if not chunk:
            break
        body += chunk
    return Answer(status, headers, _unchunked(body) if chunked else body)


def _recv(connection: socket.socket, deadline: float) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0:
        raise NoAnswer("no answer in time")
    connection.settimeout(left)
    try:
        return connection.recv(65536)
    except socket.timeout:
        raise NoAnswer("no answer in time") from None
    except ConnectionResetError:
        return b""


def _unchunked(body: bytes) -> bytes:
    """The data of a chunked body, as far as it has arrived."""
    out, rest = b"", body
    while b"\r\n" in rest:
        size_line, _, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0] or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


def request(
    base_url: str,
    method: Text,
    target: Text,
    headers: Sequence[tuple[Text, Text]] = (),
    body: bytes = b"",
    content_length: Any = AUTO,
    timeout_s: float = 30.0,
    half_close: bool = False,
) -> Answer:
    """One request to the server at ``base_url`` (``http://127.0.0.1:PORT``); ``target`` is sent as is."""
    parts = urlsplit(base_url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    raw = encode_request(method, target, headers, body, content_length, parts.netloc)
    return exchange(address, raw, timeout_s, half_close)
