"""Web chat tokens that only the server makes, so nobody can choose which conversation they join.

A web chat is named by the bearer token its page sends. If a page could pick its own token, a
guessable one (32 times "z") or one seen once (a shared computer, a screenshot) would open that
child's conversation to anyone who tries it. So the server issues every token: 256 random bits and
an HMAC-SHA256 tag of them, under a key of its own derived from ``HELPLINE_SENDER_KEY``. Checking a
token needs the key and nothing else (no lookup), so every server process of a deployment accepts
the tokens any of them issued, and a token none of them issued is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

RANDOM_BYTES = 32  # 256 bits: guessing a live conversation's token is out of reach
_PART = 43  # characters of 32 bytes in unpadded base64url
_FORM = re.compile(rf"[A-Za-z0-9_-]{{{_PART}}}\.[A-Za-z0-9_-]{{{_PART}}}")
PURPOSE = "web chat tokens"  # names the key derived for them (bot.privacy.sender_ids.SenderIds.derived_key)


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class ChatTokens:
    """Issues tokens ``<random>.<tag>`` and tells whether a token is one of them."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self) -> str:
        """A new conversation's token (87 letters, digits, ``-``, ``_`` and one ``.``)."""
        nonce = _text(secrets.token_bytes(RANDOM_BYTES))
        return f"{nonce}.{self._tag(nonce)}"

    def issued(self, token: str) -> bool:
        """Whether a server with this key made ``token`` (compared in constant time)."""
        if not _FORM.fullmatch(token):  # also keeps non-ASCII text away from compare_digest
            return False
        nonce, _, tag = token.partition(".")
        return hmac.compare_digest(tag, self._tag(nonce))

    def _tag(self, nonce: str) -> str:
        return _text(hmac.new(self._key, nonce.encode("ascii"), hashlib.sha256).digest())
