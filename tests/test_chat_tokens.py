"""Web chat tokens only the server issues (bot.privacy.chat_tokens): 256 random bits, a tag under a
key derived from HELPLINE_SENDER_KEY, checked by any process with that key."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys

import pytest

from bot import PROJECT_ROOT
from bot.privacy.chat_tokens import PURPOSE, ChatTokens
from bot.privacy.sender_ids import SenderIds
from bot.wiring.services import Services
from bot.wiring.settings import Settings

KEY = secrets.token_hex(32)


def tokens(key: str = KEY) -> ChatTokens:
    return Services(Settings.from_environ({"HELPLINE_SENDER_KEY": key})).chat_tokens


def test_an_issued_token_carries_256_random_bits_and_is_accepted():
    issued = [tokens().issue() for _ in range(200)]
    assert len(set(issued)) == 200 and all(tokens().issued(token) for token in issued)
    nonce, tag = issued[0].split(".")
    assert len(base64.urlsafe_b64decode(nonce + "=")) == 32 and len(base64.urlsafe_b64decode(tag + "=")) == 32


def _flipped(text: str, at: int) -> str:
    return text[:at] + ("B" if text[at] == "A" else "A") + text[at + 1 :]


@pytest.mark.parametrize(
    "make",
    [
        lambda t: "z" * 32,
        lambda t: "z" * 87,
        lambda t: secrets.token_hex(32),
        lambda t: _flipped(t, 0),  # the random part changed
        lambda t: _flipped(t, 86),  # the tag changed
        lambda t: t.split(".")[0] + "." + t.split(".")[0],
        lambda t: t + "\n",
        lambda t: t + "=",
        lambda t: " " + t,
        lambda t: t.replace(".", ""),
        lambda t: t[:-1] + "é",  # non-ASCII: refused, never a TypeError from compare_digest
        lambda t: t[:-1] + "\ud800",  # a lone surrogate
        lambda t: "",
        lambda t: t * 1000,
    ],
)
def test_a_token_the_server_did_not_issue_is_refused(make):
    assert tokens().issued(make(tokens().issue())) is False


def test_a_token_of_another_key_is_refused():
    assert not tokens().issued(tokens(secrets.token_hex(32)).issue())


def test_the_tokens_have_a_key_of_their_own_not_the_sender_ids_key():
    """A tag is never a sender id's hash of the same text, so one cannot stand for the other."""
    assert not tokens().issued(ChatTokens(KEY.encode()).issue())  # tagged with the sender ids' key itself
    ids = SenderIds(KEY.encode())
    assert ids.derived_key(PURPOSE) not in (KEY.encode(), ids.derived_key("another use"))


def test_another_server_process_with_the_same_key_accepts_the_token_and_one_with_another_key_does_not():
    """Stateless: nothing is looked up, so any server process of the deployment checks any other's tokens."""
    program = "from bot.wiring.services import services; print(services().chat_tokens.issue())"

    def issued_in_a_process(key: str) -> str:
        env = {**os.environ, "HELPLINE_SENDER_KEY": key, "PYTHONPATH": str(PROJECT_ROOT)}
        env.pop("REDIS_URL", None)
        done = subprocess.run(
            [sys.executable, "-c", program], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert tokens().issued(issued_in_a_process(KEY))
    assert not tokens().issued(issued_in_a_process(secrets.token_hex(32)))
