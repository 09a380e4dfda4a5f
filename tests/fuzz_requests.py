"""Hypothesis strategies for requests nobody should send us, and the tally of how they were answered.

Every strategy builds a :class:`Sent`: raw bytes for tests/raw_http.py, so a request can carry what
no HTTP library lets through: malformed or deeply nested JSON, wrong types, huge bodies, bytes that
are not UTF-8 and lone surrogates, Telegram updates and Twilio forms of unexpected shapes, headers
that are not ASCII, a Content-Length that lies, cursors past 2^64. Each names its endpoint, so the
tally can say, per endpoint, how many requests got which status.
"""

from __future__ import annotations

import json
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence
from urllib.parse import quote, urlencode, urlsplit

from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from tests.raw_http import AUTO, Answer, NoAnswer, Text

BOT, CONSOLE = "bot", "console"
MAX_BODY = 64 * 1024  # what our routes take (channels.rest, console.partner_api)


@dataclass(frozen=True)
class Sent:
    """One request, as bytes go: ``server`` is BOT or CONSOLE, ``endpoint`` labels it in the tally."""

    server: str
    endpoint: str
    method: Text
    target: Text
    headers: tuple[tuple[Text, Text], ...] = ()
    body: bytes = b""
    content_length: Any = AUTO
    half_close: bool = False  # the body is shorter than Content-Length says: say nothing more is coming

    @property
    def promises_more_than_it_sends(self) -> bool:
        """A Content-Length above the bytes sent: the server cannot know the request ended, so
        closing without an answer when the client half-closes is right."""
        return self.half_close


@dataclass
class Tally:
    """Statuses per endpoint, and the requests that got no answer with the reason."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    unanswered: Counter[tuple[str, str]] = field(default_factory=Counter)

    def record(self, sent: Sent, outcome: Answer | NoAnswer) -> None:
        if isinstance(outcome, NoAnswer):
            self.unanswered[(sent.endpoint, str(outcome))] += 1
        else:
            self.statuses[(sent.endpoint, outcome.status)] += 1

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + sum(self.unanswered.values())

    def by_status(self) -> Counter[int]:
        found: Counter[int] = Counter()
        for (_, status), count in self.statuses.items():
            found[status] += count
        return found

    def report(self) -> list[str]:
        """The table printed after a run: per endpoint, the count of each status, then the unanswered."""
        endpoints = sorted({e for e, _ in self.statuses} | {e for e, _ in self.unanswered})
        lines = [f"fuzz: {self.total} requests; by status: {dict(sorted(self.by_status().items()))}"]
        for endpoint in endpoints:
            counts = {s: n for (e, s), n in sorted(self.statuses.items()) if e == endpoint}
            lines.append(f"  {endpoint:28} {counts}")
        for (endpoint, reason), count in sorted(self.unanswered.items()):
            lines.append(f"  no answer: {endpoint}: {reason} x{count}")
        return lines


def reason_of(answer: Answer) -> str:
    """The reason a refusal gives: our routes' {"error": ...}, Sanic's own error page, or text."""
    try:
        data = answer.json()
    except ValueError:
        return answer.body.decode("utf-8", "replace").strip()
    if isinstance(data, dict):
        for key in ("error", "description", "message"):
            if isinstance(data.get(key), str) and data[key].strip():
                return str(data[key]).strip()
        return ""
    return answer.body.decode("utf-8", "replace").strip()


# --- values ---------------------------------------------------------------------------------------

# Text with everything: controls, right-to-left marks, unassigned code points, lone surrogates.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
odd_numbers = st.sampled_from([2**63, 2**64, 2**64 + 1, -(2**63) - 1, 10**30, -1, 0, 1.5, -0.0, 1e308])
scalars = st.none() | st.booleans() | st.integers() | odd_numbers | st.floats() | any_text
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4), max_leaves=10
)
NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "\ud800",
    "\udfff",
    "a\ud83dz",
    "\u202e",
    "\ufeff",
    "﷽" * 50,
    "𝕳" * 100,
    "/restart",
    "/start KE_sw",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{{7*7}}",
    "%s%n",
    "x" * 5000,
    "1-0\n",
    "١٢٣",
    "+٢٣٤٨٠١٢٣٤٥٦٧٨",
]
text_or_nasty = any_text | st.sampled_from(NASTY_TEXT)
wrong_type = (
    st.none()
    | st.booleans()
    | st.integers()
    | odd_numbers
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.text(max_size=5), scalars, max_size=3)
)


def encoded(value: Any, ascii_only: bool) -> bytes:
    """JSON bytes; with ``ascii_only`` False a lone surrogate becomes invalid UTF-8 (CESU-8 bytes)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def json_body(draw: st.DrawFn, value: st.SearchStrategy[Any]) -> bytes:
    return encoded(draw(value), draw(st.booleans()))


BROKEN_BODIES = [
    b"",
    b"{",
    b"}",
    b"[",
    b"null",
    b"0",
    b'"text"',
    b"[]",
    b"{}",
    b'{"a": 1,}',
    b"{'message': 'hi'}",
    b"NaN",
    b'{"message": NaN}',
    b'{"message": Infinity}',
    b'{"message": 1e99999}',
    b"\xef\xbb\xbf{}",  # a byte-order mark
    '{"message": "hi"}'.encode("utf-16"),
    b"\xff\xfe\xfd",
    b'{"message": "\xed\xa0\x80"}',  # a lone surrogate, as bytes
    b'{"message": "\\ud800"}',  # a lone surrogate, escaped
    b'{"message": "hi", "message": 5}',
    b"\x00" * 16,
    b"message=hi&sender=x",
]


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from([100, 1_000, 5_000, 100_000]))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    return opener * depth + b"1" + closer * depth


@st.composite
def huge_body(draw: st.DrawFn) -> bytes:
    size = draw(st.sampled_from([MAX_BODY + 1, 200_000, 2_000_000]))
    kind = draw(st.sampled_from(["spaces", "message", "binary"]))
    if kind == "spaces":
        return b" " * size
    if kind == "message":
        return b'{"message": "' + b"a" * size + b'", "sender": "x"}'
    return bytes(range(256)) * (size // 256 + 1)


broken_body = st.sampled_from(BROKEN_BODIES) | st.binary(max_size=300) | deep_nesting() | huge_body()


def bodies(shaped: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Mostly the endpoint's own shape with odd values, else any JSON, else not JSON at all."""
    return st.one_of(json_body(shaped), json_body(shaped), json_body(json_values), broken_body)


# --- headers and query strings ----------------------------------------------------------------------

ODD_HEADER_VALUES: list[Text] = [
    "",
    " ",
    "é",
    "ü" * 40,
    "\u2028",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    "x" * 9000,
    "\t",
    "null",
    "Bearer",
    "Bearer ",
    "bearer  x",
]
odd_header_value = st.sampled_from(ODD_HEADER_VALUES) | st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60
)
ODD_CURSORS = [
    "0-0",
    "1-0",
    "1-0\n",
    "1-0%0A",
    "-",
    "0",
    "1-",
    "-1",
    "1--1",
    "18446744073709551615-18446744073709551615",
    "18446744073709551616-0",
    "0-18446744073709551616",
    "99999999999999999999-0",
    "999999999999999999999-0",
    "١-٠",
    "1-0 ",
    " 1-0",
    "+1-0",
    "1_000-0",
    "$",
    ">",
    "*",
    "1-*",
    "latest",
]
odd_query_values = (
    st.sampled_from(ODD_CURSORS) | text_or_nasty | st.text(string.digits + "-", max_size=45) | st.just("%FF%FE")
)


def query(pairs: Sequence[tuple[str, str]], raw: bool) -> str:
    """A query string: percent-encoded (as UTF-8, surrogates kept as bytes) or, with ``raw``, as is."""
    if raw:
        return "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join(f"{quote(k, safe='')}={quote(v.encode('utf-8', 'surrogatepass'), safe='%')}" for k, v in pairs)


@st.composite
def query_string(draw: st.DrawFn, names: Sequence[str]) -> str:
    """``?`` and some of ``names`` (some twice) with odd values, or nothing."""
    chosen = draw(st.lists(st.sampled_from([*names, "x", ""]), max_size=4))
    pairs = [(name, draw(odd_query_values)) for name in chosen]
    if not pairs:
        return draw(st.sampled_from(["", "?", "?&&", "?=", "?a=%", "?%zz", "?" + "a=1&" * 500]))
    return "?" + query(pairs, draw(st.booleans()))


def target(path: str, names: Sequence[str] = ()) -> st.SearchStrategy[str]:
    return query_string(names).map(lambda q: path + q)


path_segment = st.sampled_from(
    ["..", ".", "%2e%2e", "%00", "%ZZ", "%FF", "a%2Fb", "x" * 3000, "é", "%F0%9F%98%80", "1-0", " "]
) | st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=30)


# --- HTTP framing ------------------------------------------------------------------------------------


@st.composite
def framing(draw: st.DrawFn, server: str, endpoint: str, method: str, path: str) -> Sent:
    """A request to ``path`` whose framing is odd: Content-Length that lies or is no number,
    duplicated, with Transfer-Encoding; a malformed request line; a header without a colon."""
    body = draw(st.sampled_from([b"{}", b'{"message": "hi"}', b"x" * 100]))
    kind = draw(
        st.sampled_from(
            [  # hypothesis leans to the first: one that must be answered; "longer" (no answer) last
                "word",
                "shorter",
                "negative",
                "huge",
                "twice",
                "chunked",
                "bad-chunk",
                "both",
                "line",
                "header",
                "no-length",
                "longer",
            ]
        )
    )
    headers: list[tuple[Text, Text]] = [("Content-Type", "application/json")]
    if kind == "longer":
        return Sent(
            server,
            endpoint,
            method,
            path,
            tuple(headers),
            body,
            len(body) + draw(st.sampled_from([1, 100, 10**6])),
            True,
        )
    if kind == "shorter":
        return Sent(server, endpoint, method, path, tuple(headers), body, draw(st.integers(0, len(body) - 1)))
    if kind == "word":
        return Sent(
            server,
            endpoint,
            method,
            path,
            tuple(headers),
            body,
            draw(st.sampled_from(["abc", "1e3", "0x10", "", "+5", " 2", "1,2"])),
        )
    if kind == "negative":
        return Sent(server, endpoint, method, path, tuple(headers), body, "-1")
    if kind == "huge":
        return Sent(server, endpoint, method, path, tuple(headers), body, "99999999999999999999999", True)
    if kind == "twice":
        headers.append(("Content-Length", str(len(body) + 1)))
        return Sent(server, endpoint, method, path, tuple(headers), body)
    if kind in ("chunked", "bad-chunk", "both"):
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if kind != "bad-chunk" else b"zz\r\n" + body + b"\r\n"
        headers.append(("Transfer-Encoding", "chunked"))
        length = len(chunked) if kind == "both" else None
        return Sent(server, endpoint, method, path, tuple(headers), chunked, length, kind == "bad-chunk")
    if kind == "line":
        odd_method = draw(st.sampled_from(["GET ", "G\x00T", "PURGE", "get", "X" * 300, "CONNECT", "TRACE", "OPTIONS"]))
        odd_path = draw(
            st.sampled_from([path, path + " HTTP/1.1", "*", "http://evil.example" + path, path + "\x00", ""])
        )
        return Sent(server, endpoint, odd_method, odd_path, tuple(headers), body)
    if kind == "header":
        line = draw(
            st.sampled_from([(b"NoColon", b""), (b"X-A\x00", b"b"), (b" Leading", b"space"), (b"X-Long", b"v" * 20000)])
        )
        return Sent(server, endpoint, method, path, (*headers, line), body)
    return Sent(server, endpoint, method, path, tuple(headers), body, None)


def with_framing(requests: st.SearchStrategy[Sent], framed: st.SearchStrategy[Sent]) -> st.SearchStrategy[Sent]:
    """Mostly the endpoint's own requests; one in five with odd framing."""
    return st.one_of(requests, requests, requests, requests, framed)


# --- Telegram ------------------------------------------------------------------------------------

FUZZ_CHATS = st.integers(9_100_000_000, 9_100_999_999)  # no other test writes from these chats


def odd(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually ``strategy``'s value, sometimes one of the wrong type."""
    return st.one_of(strategy, strategy, strategy, wrong_type)


def _user(chat: int) -> st.SearchStrategy[Any]:
    return odd(
        st.fixed_dictionaries(
            {"id": odd(st.just(chat)), "is_bot": odd(st.booleans()), "first_name": odd(text_or_nasty)},
            optional={"language_code": odd(st.sampled_from(["en", "sw", "pt-br", "zz", "", "ar-EG"]) | text_or_nasty)},
        )
    )


@st.composite
def telegram_update(draw: st.DrawFn) -> Any:
    """An update as Telegram sends it, every part of which may be missing or of another type."""
    chat_id = draw(FUZZ_CHATS)
    chat = odd(
        st.fixed_dictionaries(
            {
                "id": odd(st.just(chat_id) | st.sampled_from([0, -1, 2**63, 2**70, "12", "x"])),
                "type": odd(st.sampled_from(["private", "group", "supergroup", "channel", "nonsense"])),
            }
        )
    )
    message = odd(
        st.fixed_dictionaries(
            {"message_id": odd(st.integers(1, 10**6)), "date": odd(st.integers(0, 2**33)), "chat": chat},
            optional={
                "from": _user(chat_id),
                "text": odd(text_or_nasty),
                "caption": odd(text_or_nasty),
                "photo": odd(st.lists(st.fixed_dictionaries({"file_id": st.text(max_size=5)}), max_size=2)),
                "sticker": wrong_type,
                "voice": wrong_type,
                "entities": wrong_type,
                "reply_to_message": wrong_type,
            },
        )
    )
    callback = odd(
        st.fixed_dictionaries(
            {"id": odd(st.text(max_size=8)), "from": _user(chat_id), "chat_instance": odd(st.text(max_size=5))},
            optional={"message": message, "data": odd(text_or_nasty)},
        )
    )
    member = odd(
        st.fixed_dictionaries(
            {
                "chat": chat,
                "from": _user(chat_id),
                "date": odd(st.integers(0, 2**33)),
                "old_chat_member": wrong_type,
                "new_chat_member": odd(
                    st.fixed_dictionaries(
                        {"status": odd(st.sampled_from(["kicked", "member", "left"])), "user": _user(chat_id)}
                    )
                ),
            }
        )
    )
    update_id = odd(st.integers(0, 2**31) | st.sampled_from([2**64, -5, "12", "abc", 1.5, None, [1], {"a": 1}]))
    return draw(
        odd(
            st.fixed_dictionaries(
                {"update_id": update_id},
                optional={
                    "message": message,
                    "edited_message": message,
                    "callback_query": callback,
                    "my_chat_member": member,
                    "inline_query": wrong_type,
                    "poll": wrong_type,
                },
            )
        )
    )


@st.composite
def one_change(draw: st.DrawFn, value: Any) -> Any:
    """``value`` (nested dicts and lists) with one thing changed somewhere: a part removed, or
    replaced by a value of another type or by nasty text. Most of the update is then as the code
    expects, so the request gets past the first checks to the code behind them."""
    if not isinstance(value, (dict, list)) or not value or draw(st.integers(0, 3)) == 0:
        return draw(wrong_type | st.sampled_from(NASTY_TEXT))
    key = draw(st.sampled_from(sorted(value) if isinstance(value, dict) else range(len(value))))
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    if isinstance(copy, dict) and draw(st.integers(0, 4)) == 0:
        del copy[key]
    else:
        copy[key] = draw(one_change(copy[key]))
    return copy


@st.composite
def sound_update(draw: st.DrawFn) -> dict[str, Any]:
    """An update as Telegram sends it from a private chat: a message, a button press or a block."""
    chat_id = draw(FUZZ_CHATS)
    user = {
        "id": chat_id,
        "is_bot": False,
        "first_name": "Fuzz",
        "language_code": draw(st.sampled_from(["en", "sw", "fr"])),
    }
    chat = {"id": chat_id, "type": "private"}
    message = {
        "message_id": draw(st.integers(1, 10**6)),
        "date": 1_800_000_000,
        "chat": chat,
        "from": user,
        "text": draw(text_or_nasty),
    }
    kind = draw(st.sampled_from(["message", "message", "callback_query", "my_chat_member"]))
    update: dict[str, Any] = {"update_id": draw(st.integers(0, 2**31))}
    if kind == "message":
        update["message"] = message
    elif kind == "callback_query":
        update["callback_query"] = {
            "id": "1",
            "from": user,
            "chat_instance": "1",
            "message": message,
            "data": draw(text_or_nasty),
        }
    else:
        update["my_chat_member"] = {
            "chat": chat,
            "from": user,
            "date": 1_800_000_000,
            "old_chat_member": {"status": "member", "user": user},
            "new_chat_member": {"status": "kicked", "user": user, "until_date": 0},
        }
    return update


def telegram(secret: str, path: str = "/webhooks/telegram/webhook") -> st.SearchStrategy[Sent]:
    header = st.one_of(st.just(secret), st.just(secret), st.just(secret), odd_header_value)

    @st.composite
    def build(draw: st.DrawFn) -> Sent:
        body = draw(
            st.one_of(
                json_body(sound_update()),
                json_body(sound_update().flatmap(one_change)),
                json_body(sound_update().flatmap(one_change)),
                json_body(telegram_update()),
                bodies(telegram_update()),
            )
        )
        headers = [
            (
                "Content-Type",
                draw(st.sampled_from(["application/json", "text/plain", "", "application/json; charset=latin-1"])),
            )
        ]
        if draw(st.integers(0, 9)):
            headers.append(("X-Telegram-Bot-Api-Secret-Token", draw(header)))
        return Sent(BOT, "telegram webhook", "POST", path + draw(query_string(["x"])), tuple(headers), body)

    return with_framing(build(), framing(BOT, "telegram webhook", "POST", path))


# --- Twilio ------------------------------------------------------------------------------------

PHONES = [
    "+2348012345678",
    "+254712345678",
    "+15005550006",
    "+447700900123",
    "+٢٣٤٨٠١٢٣٤٥٦٧٨",
    "+2348012345678\n",
    "+1",
    "+" + "9" * 30,
    "",
    "whatsapp:",
    "whatsapp:+254712345678",
]


@st.composite
def twilio_form(draw: st.DrawFn, prefix: str) -> dict[str, str]:
    phone = draw(st.sampled_from(PHONES) | text_or_nasty)
    form = {
        "MessageSid": draw(
            st.sampled_from(["SM" + "f" * 32])
            | st.text(string.ascii_letters + string.digits, max_size=40)
            | text_or_nasty
        ),
        "From": prefix + phone if draw(st.booleans()) else phone,
        "Body": draw(text_or_nasty),
        "NumMedia": draw(st.sampled_from(["0", "1", "", "-1", "x", "99999999999999999999"])),
    }
    dropped = draw(st.lists(st.sampled_from(list(form)), max_size=2))
    extra = draw(
        st.dictionaries(st.sampled_from(["MediaUrl0", "ProfileName", "To", "WaId", "x"]), text_or_nasty, max_size=2)
    )
    return {**{k: v for k, v in form.items() if k not in dropped}, **extra}


def twilio(channel: str, auth_token: str, public_url: str) -> st.SearchStrategy[Sent]:
    validator = RequestValidator(auth_token)
    path = f"/webhooks/{channel}/webhook"
    prefix = "whatsapp:" if channel == "whatsapp" else ""

    @st.composite
    def build(draw: st.DrawFn) -> Sent:
        form = draw(twilio_form(prefix))
        clean = {k: v.encode("utf-8", "replace").decode("utf-8") for k, v in form.items()}  # what parse_qs gives back
        body = urlencode(clean).encode()
        signature: Text = validator.compute_signature(public_url + path, clean)
        kind = draw(st.sampled_from(["signed", "signed", "signed", "unsigned", "odd-signature", "odd-body"]))
        if kind == "odd-signature":
            signature = draw(odd_header_value)
        if kind == "odd-body":
            body = draw(broken_body | json_body(json_values))
        headers: list[tuple[Text, Text]] = [("Content-Type", "application/x-www-form-urlencoded")]
        if kind != "unsigned":
            headers.append(("X-Twilio-Signature", signature))
        return Sent(BOT, f"{channel} webhook", "POST", path, tuple(headers), body)

    return with_framing(build(), framing(BOT, f"{channel} webhook", "POST", path))


# --- web chat and rest --------------------------------------------------------------------------------


def hints() -> st.SearchStrategy[Any]:
    return odd(
        st.fixed_dictionaries(
            {},
            optional={
                "language": odd(st.sampled_from(["en", "sw", "pt-BR", "zz", "", "x" * 300]) | text_or_nasty),
                "country": odd(st.sampled_from(["KE", "ke", "NG", "XX", "ß", "ǅ", "", "KEN"]) | text_or_nasty),
                "phone": odd(st.sampled_from(PHONES) | text_or_nasty),
                "channel": odd(st.sampled_from(["sms", "web", "telegram", "whatsapp", "fax", ""]) | text_or_nasty),
            },
        )
    )


def web_message() -> st.SearchStrategy[Any]:
    return odd(
        st.fixed_dictionaries(
            {"message": odd(text_or_nasty)},
            optional={
                "id": odd(st.text(string.ascii_letters + "-_", min_size=1, max_size=70) | text_or_nasty),
                "metadata": hints(),
            },
        )
    )


def tokens_choice(valid: Callable[[], str]) -> st.SearchStrategy[Optional[Text]]:
    """An Authorization header's value, or None for none: the server's own token, forged, chosen, odd."""
    real = st.builds(lambda: "Bearer " + valid())
    forged = st.builds(lambda: "Bearer " + ("A" if valid()[0] != "A" else "B") + valid()[1:])
    chosen = st.sampled_from(["Bearer " + "z" * 32, "Bearer " + "0" * 64, "Bearer " + "a" * 43 + "." + "b" * 43])
    return st.one_of(st.none(), real, real, forged, chosen, odd_header_value)


def web_post(valid_token: Callable[[], str]) -> st.SearchStrategy[Sent]:
    path = "/webhooks/web/webhook"

    @st.composite
    def build(draw: st.DrawFn) -> Sent:
        headers: list[tuple[Text, Text]] = [("Content-Type", "application/json")]
        authorization = draw(tokens_choice(valid_token))
        if authorization is not None:
            headers.append(("Authorization", authorization))
        return Sent(BOT, "web chat message", "POST", path, tuple(headers), draw(bodies(web_message())))

    return with_framing(build(), framing(BOT, "web chat message", "POST", path))


def web_inbox(valid_token: Callable[[], str]) -> st.SearchStrategy[Sent]:
    """Inbox reads; with the real token, only cursors from the past (one the inbox is past answers at
    once) or malformed ones: a cursor from the future waits the whole long poll."""

    @st.composite
    def build(draw: st.DrawFn) -> Sent:
        authorization = draw(tokens_choice(valid_token))
        headers = () if authorization is None else (("Authorization", authorization),)
        return Sent(BOT, "web chat inbox", "GET", draw(target("/webhooks/web/inbox", ["after"])), headers)

    return build()


def web_page() -> st.SearchStrategy[Sent]:
    @st.composite
    def build(draw: st.DrawFn) -> Sent:
        path = draw(st.sampled_from(["/webhooks/web/chat", "/webhooks/web/webchat.js", "/webhooks/web/webchat.css"]))
        names = ["lang", "country"]
        headers: tuple[tuple[Text, Text], ...] = ()
        if draw(st.booleans()):
            headers = (
                (
                    "Accept-Language",
                    draw(odd_header_value | st.sampled_from(["ar-EG,ar;q=0.9", "*", ";q=", ",,,", "sw;q=abc"])),
                ),
            )
        return Sent(
            BOT,
            "web chat page",
            draw(st.sampled_from(["GET", "GET", "HEAD", "POST"])),
            draw(target(path, names)),
            headers,
        )

    return build()


def rest() -> st.SearchStrategy[Sent]:
    path = "/webhooks/rest/webhook"
    shaped = odd(
        st.fixed_dictionaries(
            {
                "sender": odd(
                    st.text(string.ascii_letters, min_size=1, max_size=10).map(lambda s: "fuzz-" + s) | text_or_nasty
                ),
                "message": odd(text_or_nasty),
            },
            optional={"metadata": hints()},
        )
    )

    @st.composite
    def build(draw: st.DrawFn) -> Sent:
        content_type = draw(st.sampled_from(["application/json", "text/plain", "multipart/form-data; boundary=x", ""]))
        return Sent(BOT, "rest webhook", "POST", path, (("Content-Type", content_type),), draw(bodies(shaped)))

    return with_framing(build(), framing(BOT, "rest webhook", "POST", path))


BOT_PATHS = [
    "/",
    "/webhooks/rest/",
    "/webhooks/web/",
    "/webhooks/telegram/",
    "/webhooks/sms/",
    "/webhooks/whatsapp/",
    "/webhooks/",
    "/webhooks/nope/webhook",
    "/version",
    "/status",
    "/model/parse",
    "/conversations/x/tracker",
]


def bot_other() -> st.SearchStrategy[Sent]:
    """Health routes, Rasa's own, unknown paths, every method."""

    @st.composite
    def build(draw: st.DrawFn) -> Sent:
        path = draw(st.sampled_from(BOT_PATHS) | path_segment.map(lambda s: "/webhooks/web/" + s))
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]))
        body = draw(st.just(b"") | broken_body) if method not in ("GET", "HEAD") else b""
        return Sent(BOT, "bot other routes", method, path + draw(query_string(["a"])), (), body)

    return build()


# --- the console --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleKeys:
    """What a fuzzed console request may carry: real sessions (cookie, CSRF) and real ticket ids."""

    sessions: dict[str, tuple[str, str]]  # role -> (cookie, csrf)
    own_ticket: str  # a ticket of the counsellor's desk
    other_ticket: str  # another desk's
    partner_ticket: str  # a ticket of the desk whose own system uses the partner API


def cookie_and_csrf(keys: ConsoleKeys, change: bool) -> st.SearchStrategy[tuple[tuple[Text, Text], ...]]:
    @st.composite
    def build(draw: st.DrawFn) -> tuple[tuple[Text, Text], ...]:
        role = draw(st.sampled_from([None, "odd", *keys.sessions]))
        headers: list[tuple[Text, Text]] = []
        csrf: Optional[Text] = None
        if role == "odd":
            headers.append(("Cookie", draw(st.sampled_from(ODD_COOKIES) | odd_header_value.map(_as_cookie))))
        elif role is not None:
            cookie, real_csrf = keys.sessions[role]
            headers.append(("Cookie", f"helpline_session={cookie}"))
            csrf = real_csrf
        if change:
            chosen = draw(st.sampled_from(["real", "real", "none", "odd"]))
            if chosen == "real" and csrf is not None:
                headers.append(("X-CSRF-Token", csrf))
            elif chosen == "odd":
                headers.append(("X-CSRF-Token", draw(odd_header_value)))
        return tuple(headers)

    return build()


ODD_COOKIES: list[Text] = [
    "helpline_session=",
    "helpline_session=x",
    'helpline_session="a b"',
    "=;;=",
    "helpline_session=é",
    b"helpline_session=\xff\xfe",
    b"helpline_session=\xed\xa0\x80",
    "helpline_session=" + "a" * 5000,
    "helpline_session=a; helpline_session=b",
]


def _as_cookie(value: Text) -> Text:
    return b"helpline_session=" + value if isinstance(value, bytes) else "helpline_session=" + value


def ticket_ids(keys: ConsoleKeys) -> st.SearchStrategy[str]:
    return st.sampled_from([keys.own_ticket, keys.other_ticket]) | path_segment


def console_api(keys: ConsoleKeys) -> st.SearchStrategy[Sent]:
    """The counsellors' API and the admin API, logged in or not, with odd ids, bodies and queries."""

    @st.composite
    def reads(draw: st.DrawFn) -> Sent:
        ticket = draw(ticket_ids(keys))
        path, names = draw(
            st.sampled_from(
                [
                    ("/api/queue", []),
                    ("/api/outcomes", []),
                    ("/api/me", []),
                    (f"/api/tickets/{ticket}/messages", []),
                    (f"/api/tickets/{ticket}/canned", []),
                    ("/api/stats", ["from", "to", "country"]),
                    ("/api/languages", []),
                ]
            )
        )
        q = draw(query_string(names)) if names != ["from", "to", "country"] else draw(stats_query())
        return Sent(CONSOLE, "console reads", "GET", path + q, draw(cookie_and_csrf(keys, change=False)))

    @st.composite
    def changes(draw: st.DrawFn) -> Sent:
        action = draw(st.sampled_from(["claim", "reply", "transfer", "close", "handback", "nope"]))
        shaped = odd(
            st.fixed_dictionaries(
                {},
                optional={
                    "text": odd(text_or_nasty),
                    "outcome": odd(st.sampled_from(["counselling_given", "referred", "nope"]) | text_or_nasty),
                    "to": odd(text_or_nasty),
                },
            )
        )
        headers = (("Content-Type", "application/json"), *draw(cookie_and_csrf(keys, change=True)))
        path = f"/api/tickets/{draw(ticket_ids(keys))}/{action}"
        return Sent(CONSOLE, "console changes", "POST", path, headers, draw(bodies(shaped)))

    @st.composite
    def login(draw: st.DrawFn) -> Sent:
        shaped = odd(
            st.fixed_dictionaries(
                {"username": odd(st.sampled_from(["fuzz-nobody", "a"]) | text_or_nasty), "password": odd(text_or_nasty)}
            )
        )
        return Sent(
            CONSOLE,
            "console login",
            "POST",
            "/api/login",
            (("Content-Type", "application/json"),),
            draw(bodies(shaped)),
        )

    @st.composite
    def logout(draw: st.DrawFn) -> Sent:  # never with a real CSRF token: the fuzz's own sessions must live
        headers = draw(cookie_and_csrf(keys, change=False))
        extra = (("X-CSRF-Token", draw(odd_header_value)),) if draw(st.booleans()) else ()
        return Sent(
            CONSOLE, "console logout", "POST", "/api/logout", (*headers, *extra), draw(st.just(b"") | broken_body)
        )

    @st.composite
    def pages(draw: st.DrawFn) -> Sent:
        path = draw(
            st.sampled_from(["/", "/console.js", "/console.css", "/admin", "/admin.js", "/api", "/api/", "/nope"])
            | path_segment.map(lambda s: "/api/" + s)
        )
        method = draw(st.sampled_from(["GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]))
        return Sent(
            CONSOLE,
            "console pages",
            method,
            path + draw(query_string(["a"])),
            draw(cookie_and_csrf(keys, change=False)),
        )

    return st.one_of(
        reads(),
        reads(),
        changes(),
        changes(),
        login(),
        logout(),
        pages(),
        framing(CONSOLE, "console changes", "POST", f"/api/tickets/{keys.own_ticket}/reply"),
    )


@st.composite
def stats_query(draw: st.DrawFn) -> str:
    day = (
        st.dates().map(str)
        | st.sampled_from(
            ["9999-12-31", "0001-01-01", "2026-02-30", "2026-1-1", "20261201", "2026-W01", "", "2026-12-01T00:00"]
        )
        | text_or_nasty
    )
    pairs = []
    for name in ("from", "to", "country"):
        if draw(st.integers(0, 4)):
            value = (
                draw(day)
                if name != "country"
                else draw(st.sampled_from(["KE", "ke", "NG", "??", "XX", "", "ß"]) | text_or_nasty)
            )
            pairs.append((name, value))
    return "?" + query(pairs, draw(st.integers(0, 5)) == 0)


def console_events(keys: ConsoleKeys) -> st.SearchStrategy[Sent]:
    @st.composite
    def build(draw: st.DrawFn) -> Sent:
        headers = draw(cookie_and_csrf(keys, change=False))
        if draw(st.booleans()):
            headers = (*headers, ("Last-Event-ID", draw(st.sampled_from(ODD_CURSORS) | odd_header_value)))
        return Sent(CONSOLE, "console events", "GET", draw(target("/api/events", ["after"])), headers)

    return build()


# --- the partner API --------------------------------------------------------------------------------


Sign = Callable[[str, str, bytes], str]  # (method, path, body) -> X-Helpline-Signature


def partner(desk: str, sign: Sign, keys: ConsoleKeys) -> st.SearchStrategy[Sent]:
    """The reply API of a helpline's own system: signed (or not) requests with odd bodies and headers."""

    @st.composite
    def build(draw: st.DrawFn) -> Sent:
        ticket = draw(st.sampled_from([keys.partner_ticket, keys.own_ticket]) | path_segment)
        action = draw(st.sampled_from(["", "", "/claim", "/messages", "/close", "/nope"]))
        method = "GET" if not action else "POST"
        method = draw(st.sampled_from([method, method, method, "PUT", "DELETE"]))
        path = f"/partner/v1/tickets/{ticket}{action}"
        shaped = odd(
            st.fixed_dictionaries(
                {},
                optional={
                    "text": odd(text_or_nasty),
                    "outcome": odd(st.sampled_from(["counselling_given", "x"]) | text_or_nasty),
                },
            )
        )
        body = b"" if method == "GET" and draw(st.booleans()) else draw(bodies(shaped))
        headers: list[tuple[Text, Text]] = [("Content-Type", "application/json")]
        kind = draw(st.sampled_from(["signed", "signed", "signed", "none", "odd-desk", "odd-signature", "stale"]))
        if kind != "none":
            headers.append(("X-Helpline-Desk", draw(odd_header_value) if kind == "odd-desk" else desk))
            if kind == "odd-signature":
                headers.append(("X-Helpline-Signature", draw(odd_header_value | st.sampled_from(ODD_SIGNATURES))))
            else:
                headers.append(("X-Helpline-Signature", sign(method, path, body + (b" " if kind == "stale" else b""))))
        return Sent(CONSOLE, "partner api", method, path + draw(query_string(["a"])), tuple(headers), body)

    return build()


ODD_SIGNATURES = [
    "t=1,v1=",
    "t=99999999999999999999,v1=ab",
    "t=-1,v1=x",
    "v1=ab,t=1",
    "t=١٢,v1=ab",
    "t=1,v1=" + "é" * 64,
]
OPENAPI = Path(__file__).parent.parent / "console" / "openapi.yml"


def from_schemathesis(case: Any, data: st.DataObject, keys: ConsoleKeys, sign: Sign) -> Sent:
    """A case schemathesis generated from console/openapi.yml, mostly about desk GH's own ticket
    and signed with its secret (else nearly all would stop at the signature), as raw bytes."""
    if data.draw(st.booleans()):
        case.path_parameters["ticket_id"] = keys.partner_ticket
    call = case.as_transport_kwargs(base_url="http://127.0.0.1")
    parts = urlsplit(call["url"])
    path = parts.path
    params = call.get("params") or {}
    target = path + ("?" + urlencode(params, doseq=True) if params else "")
    if "json" in call:
        body = encoded(call["json"], data.draw(st.booleans()))
    else:
        raw = call.get("data") or b""
        body = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "surrogatepass")
    headers = {k: v for k, v in call["headers"].items() if k.lower() not in ("connection", "content-length", "host")}
    if data.draw(st.integers(0, 3)):
        headers["X-Helpline-Desk"] = "GH"
        headers["X-Helpline-Signature"] = sign(call["method"], path, body)
    return Sent(CONSOLE, "partner api (openapi)", call["method"], target, tuple(headers.items()), body)
