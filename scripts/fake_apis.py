"""Fake Telegram Bot API and Twilio REST servers on 127.0.0.1, recording what the bot sends (and when).

They answer in the real formats (python-telegram-bot and twilio parse the answers), so the
channels run their real clients against them. Tests switch them into failure at any time: down
(503, or connections refused), flood control (429 with Telegram's ``retry_after``), the child
blocked the bot (403), Twilio's error codes; ``recover()`` ends it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

TELEGRAM_TOKEN = "123456789:TESTtokenTESTtokenTESTtokenTEST12345"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "testauthtoken0123456789abcdef01"
TELEGRAM_SECRET = "test-webhook-secret-0123456789"
PUBLIC_URL = "https://bot.example.org"
SMS_FROM, WHATSAPP_FROM = "+15005550006", "+14155238886"


class _Server(ThreadingHTTPServer):
    """Keeps connections open between calls, as the real APIs do (HTTP/1.1), and knows them, so
    :meth:`drop_connections` can break them as a provider going down would."""

    request_queue_size = 128  # the default backlog of 5 makes bursts wait a second for SYN retries
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._open_lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # every answer carries its Content-Length

    def log_message(self, *args: Any) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler], port: int = 0) -> _Server:
    """A server for ``handler`` on ``port`` (0: a free loopback port), answering in a background thread."""
    server = _Server(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class FakeApi:
    """A recording HTTP server; ``calls`` holds (path, parameters) of every POST, ``times`` when and
    ``statuses`` what it answered. Calls that send a message (``sends``) can be made to fail."""

    sends = ""  # the end of the path of a call that sends a message

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.times: list[float] = []  # time.monotonic() of each call
        self.statuses: list[int] = []
        self._failure: Optional[tuple[int, Any]] = None
        self._failures_left: Optional[int] = None  # None: until recover()
        self._lock = threading.Condition()
        api = self

        class Handler(_QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(body or "{}")
                else:
                    params = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
                with api._lock:
                    failing = api._failing(self.path)
                    status, answer = failing or api.answer(self.path, params)
                    api.calls.append((self.path, params))
                    api.times.append(time.monotonic())
                    api.statuses.append(status)
                    api._lock.notify_all()
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802 - a media download: recorded, never served
                with api._lock:
                    api.calls.append((self.path, {"method": "GET"}))
                    api.times.append(time.monotonic())
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._handler = Handler
        self._server = _serve(Handler)
        self._port = self._server.server_address[1]
        self._refusing = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def answer(self, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        raise NotImplementedError

    def fail(self, status: int, answer: Any, count: Optional[int] = None) -> None:
        """Answer the next ``count`` sending calls (all of them until :meth:`recover` when None) so."""
        with self._lock:
            self._failure, self._failures_left = (status, answer), count

    def refuse_connections(self) -> None:
        """Down for good: the port is closed, so every connection is refused until :meth:`recover`."""
        if not self._refusing:
            self._refusing = True
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()

    def recover(self) -> None:
        """Answer normally again (on the same port)."""
        with self._lock:
            self._failure = self._failures_left = None
        if self._refusing:
            self._server = _serve(self._handler, self._port)
            self._refusing = False

    def _failing(self, path: str) -> Optional[tuple[int, Any]]:
        """The failure to answer this call with, if any (under the lock)."""
        if self._failure is None or not path.endswith(self.sends):
            return None
        failure = self._failure
        if self._failures_left is not None:
            self._failures_left -= 1
            if self._failures_left <= 0:
                self._failure = self._failures_left = None
        return failure

    def log(self) -> list[tuple[str, dict[str, Any], int, float]]:
        """Every call so far: (path, parameters, status answered, time.monotonic() it came)."""
        with self._lock:
            calls = zip(self.calls, self.statuses, self.times, strict=True)
            return [(path, params, status, at) for (path, params), status, at in calls]

    def sent(self, predicate: Callable[[str, dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self._lock:
            return [params for path, params in self.calls if predicate(path, params)]

    def mark(self) -> int:
        """Where the calls made from now on start (for :meth:`since`)."""
        with self._lock:
            return len(self.calls)

    def since(self, start: int, predicate: Callable[[str, dict[str, Any]], bool]) -> list[tuple[float, dict[str, Any]]]:
        """(when, parameters) of the matching calls at index ``start`` or later, in order."""
        with self._lock:
            found = zip(self.times[start:], self.calls[start:], strict=True)
            return [(at, params) for at, (path, params) in found if predicate(path, params)]

    def first_call_after(
        self, predicate: Callable[[str, dict[str, Any]], bool], start: int, timeout_s: float = 60
    ) -> Optional[float]:
        """When the first matching call at index ``start`` or later arrived (benchmarks); None on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                for index in range(start, len(self.calls)):
                    if predicate(*self.calls[index]):
                        return self.times[index]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)

    def wait_for(
        self, predicate: Callable[[str, dict[str, Any]], bool], count: int = 1, timeout_s: float = 30
    ) -> list[dict[str, Any]]:
        """The matching calls once there are ``count`` of them (the bot answers off the request)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.sent(predicate)
            if len(found) >= count:
                time.sleep(0.3)  # let any extra (wrong) call arrive too
                return self.sent(predicate)
            time.sleep(0.05)
        return self.sent(predicate)

    def close(self) -> None:
        if not self._refusing:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()


class FakeTelegram(FakeApi):
    """``POST /bot<token>/<method>`` of the Bot API."""

    sends = "/sendMessage"

    def down(self) -> None:
        self.fail(503, {"ok": False, "error_code": 503, "description": "Service Unavailable"})

    def flood(self, retry_after_s: int, count: int = 1) -> None:
        """Flood control: 429 with ``parameters.retry_after`` (python-telegram-bot raises RetryAfter)."""
        said = f"Too Many Requests: retry after {retry_after_s}"
        answer = {"ok": False, "error_code": 429, "description": said, "parameters": {"retry_after": retry_after_s}}
        self.fail(429, answer, count)

    def blocked(self) -> None:
        """The child blocked the bot: 403, as Telegram words it (python-telegram-bot raises Forbidden)."""
        self.fail(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})

    def answer(self, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        method = path.rsplit("/", 1)[-1]
        if method == "getMe":
            return 200, {
                "ok": True,
                "result": {"id": 1, "is_bot": True, "first_name": "Helpline", "username": "helpline_test_bot"},
            }
        if method == "sendMessage":
            chat = int(_value(params.get("chat_id")))
            result = {
                "message_id": len(self.calls),
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "text": _value(params.get("text")),
            }
            return 200, {"ok": True, "result": result}
        return 200, {"ok": True, "result": True}

    def messages_to(self, chat_id: int, count: int = 1, timeout_s: float = 30) -> list[dict[str, Any]]:
        found = self.wait_for(
            lambda p, q: p.endswith("/sendMessage") and int(_value(q.get("chat_id"))) == chat_id, count, timeout_s
        )
        return [
            {**params, "text": _value(params.get("text")), "reply_markup": _value(params.get("reply_markup"))}
            for params in found
        ]

    def texts_to(self, chat_id: int) -> list[str]:
        """The texts sent to the chat so far, in order (without waiting)."""
        sent = self.sent(lambda p, q: p.endswith("/sendMessage") and int(_value(q.get("chat_id"))) == chat_id)
        return [_value(params.get("text")) for params in sent]


class FakeTwilio(FakeApi):
    """``POST /2010-04-01/Accounts/<sid>/Messages.json`` of Twilio's REST API."""

    sends = "/Messages.json"

    def down(self) -> None:
        self.fail(503, {"code": 20500, "message": "Service unavailable", "status": 503})

    def error(self, code: int, status: int = 400, count: Optional[int] = None) -> None:
        """Twilio refuses with an error code (21211: not a valid number, 21610: unsubscribed...)."""
        self.fail(status, {"code": code, "message": f"Error {code}", "more_info": "", "status": status}, count)

    def answer(self, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        return 201, {
            "sid": f"SM{len(self.calls):032d}",
            "account_sid": TWILIO_SID,
            "to": params.get("To"),
            "from": params.get("From"),
            "body": params.get("Body"),
            "status": "queued",
            "num_segments": "1",
        }

    def messages_to(self, address: str, count: int = 1, timeout_s: float = 30) -> list[str]:
        found = self.wait_for(lambda p, q: p.endswith("/Messages.json") and q.get("To") == address, count, timeout_s)
        return [params["Body"] for params in found]

    def bodies_to(self, address: str) -> list[str]:
        """The messages sent to ``address`` so far, in order (without waiting)."""
        return [
            params["Body"] for params in self.sent(lambda p, q: p.endswith("/Messages.json") and q.get("To") == address)
        ]


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # names in lower case
    body: bytes
    at: float  # time.monotonic()
    status: int  # what the fake answered


class FakePartner:
    """A helpline's own system taking ticket webhooks (bot.handoff.partner) at ``url``; it records every
    attempt, raw, so tests check the signature, and refuses the next ones on request (retries)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._refusals: list[int] = []
        self._lock = threading.Condition()
        partner = self

        class Handler(_QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with partner._lock:
                    status = partner._refusals.pop(0) if partner._refusals else 204
                    partner.received.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic(), status)
                    )
                    partner._lock.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = _serve(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/tickets"

    def refuse_next(self, *statuses: int) -> None:
        """Answer the next deliveries with these statuses, in turn."""
        with self._lock:
            self._refusals.extend(statuses)

    def accepted(
        self, count: int = 0, timeout_s: float = 30, where: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> list[dict[str, Any]]:
        """The bodies taken (2xx) that ``where`` selects, once there are ``count`` of them."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                found = [json.loads(r.body) for r in self.received if r.status < 300 and where(json.loads(r.body))]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._lock.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.drop_connections()


def _value(raw: Optional[Any]) -> Any:
    """python-telegram-bot sends each parameter JSON-encoded unless it is a plain string."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def channel_credentials(telegram_api: FakeTelegram, twilio_api: FakeTwilio, timeout_s: float = 5) -> str:
    """Every channel, talking to the fake APIs, as credentials.yml would configure them."""
    twilio = f"""  account_sid: "{TWILIO_SID}"
  auth_token: "{TWILIO_TOKEN}"
  public_url: "{PUBLIC_URL}"
  api_base_url: "{twilio_api.url}"
  reply_timeout_s: {timeout_s}
"""
    return f"""channels.rest.RestChannel:
channels.web.WebChatChannel:
  reply_timeout_s: {timeout_s}
  poll_wait_s: 5
channels.telegram.TelegramChannel:
  token: "{TELEGRAM_TOKEN}"
  webhook_secret: "{TELEGRAM_SECRET}"
  api_base_url: "{telegram_api.url}"
  reply_timeout_s: {timeout_s}
channels.twilio.SmsChannel:
  from: "{SMS_FROM}"
{twilio}channels.twilio.WhatsAppChannel:
  from: "{WHATSAPP_FROM}"
{twilio}"""
