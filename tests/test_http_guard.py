"""Malformed HTTP framing gets a 400 with the reason from both servers (console.http_guard), and
the server goes on answering. Each case was a 500, a silent close or, for a negative
Content-Length, a process frozen at full CPU, before the guard (found by tests/test_fuzz.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.raw_http import request

NOT_A_LENGTH = "Content-Length must be a whole number of bytes (0 or more)"
CASES = [
    pytest.param([], b"{}", "-1", NOT_A_LENGTH, id="negative-length"),
    pytest.param([], b"{}", "abc", NOT_A_LENGTH, id="word-length"),
    pytest.param([], b"{}", "+2", NOT_A_LENGTH, id="signed-length"),
    pytest.param([], b"{}", "\u0662", NOT_A_LENGTH, id="arabic-digit-length"),
    pytest.param(
        [("Content-Length", "3")],
        b"{}",
        "2",
        "Content-Length is given more than once, with different values",
        id="twice",
    ),
    pytest.param(
        [("Transfer-Encoding", "chunked")],
        b"2\r\n{}\r\n0\r\n\r\n",
        "11",
        "send either Content-Length or Transfer-Encoding, not both",
        id="length-and-chunked",
    ),
    pytest.param(
        [("Transfer-Encoding", "gzip")],
        b"{}",
        None,
        "a request with a body needs Content-Length, or Transfer-Encoding: chunked",
        id="no-length",
    ),
]
TARGETS = [
    pytest.param(
        "/x?after=1-0\n",
        "the request target is not a valid URL (control characters must be percent-encoded)",
        id="newline",
    ),
    pytest.param(
        "/x\x00", "the request target is not a valid URL (control characters must be percent-encoded)", id="nul"
    ),
    pytest.param(b"/x?after=\xff", "the request target must be ASCII: percent-encode other bytes", id="not-ascii"),
]


@pytest.fixture(scope="module")
def servers(bot, console) -> dict[str, tuple[str, str]]:
    """Each server's base URL and a POST route of it."""
    return {"bot": (bot.base_url, "/webhooks/rest/webhook"), "console": (console, "/api/login")}


@pytest.fixture(scope="module")
def logs(bot, console_folder) -> dict[str, Path]:
    return {"bot": bot.log, "console": console_folder / "console.log"}


def reason(body: bytes) -> str:
    """The reason line of Sanic's text error page (its third line)."""
    return body.decode().split("\n")[2]


@pytest.mark.parametrize("server", ["bot", "console"])
@pytest.mark.parametrize("headers, body, length, why", CASES)
def test_malformed_framing_is_a_400_with_the_reason_and_the_server_goes_on(servers, server, headers, body, length, why):
    base, path = servers[server]
    answer = request(base, "POST", path, headers, body, length, timeout_s=10)
    assert (answer.status, reason(answer.body)) == (400, why)
    assert request(base, "GET", "/", timeout_s=10).status == 200  # still answering: nothing spins


@pytest.mark.parametrize("server", ["bot", "console"])
@pytest.mark.parametrize("target, why", TARGETS)
def test_a_request_target_that_does_not_parse_gets_a_400_not_a_closed_connection(servers, server, target, why):
    base, _ = servers[server]
    answer = request(base, "GET", target, timeout_s=10)
    assert (answer.status, reason(answer.body)) == (400, why)


@pytest.mark.parametrize("server", ["bot", "console"])
def test_a_length_too_large_to_take_is_a_413(servers, server):
    base, path = servers[server]
    answer = request(base, "POST", path, [], b"{}", "9" * 25, timeout_s=10, half_close=True)
    assert answer.status == 413


@pytest.mark.parametrize("server", ["bot", "console"])
def test_a_malformed_chunk_is_a_400_and_logs_no_traceback(servers, logs, server):
    base, path = servers[server]
    before = logs[server].stat().st_size
    answer = request(base, "POST", path, [("Transfer-Encoding", "chunked")], b"zz\r\n{}\r\n", None, 10, True)
    assert (answer.status, reason(answer.body)) == (400, "Bad chunked encoding")
    assert request(base, "GET", "/", timeout_s=10).status == 200
    with logs[server].open("rb") as log:
        log.seek(before)
        assert b"Traceback" not in log.read()
