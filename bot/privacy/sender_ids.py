"""The sender id Rasa sees: a keyed hash of the channel address, never the address itself.

Rasa keeps conversations (and logs them) by sender id, so a phone number or chat id used as the id
would spread through every store. HMAC-SHA256 with a secret key gives each child a stable id that
cannot be turned back into their number without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_VARIABLE = "HELPLINE_SENDER_KEY"
MIN_KEY_LENGTH = 32


class MissingSecret(ValueError):
    """A secret the channels need is missing or malformed; the message names the variable."""


class SenderIds:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_setting(cls, key: str, in_memory: bool = False) -> "SenderIds":
        """The key as configured (``HELPLINE_SENDER_KEY``); ``in_memory`` (nothing outlives this
        process, as in the local quick start) lets a missing key be made up for this process alone."""
        if not key and in_memory:
            return cls(secrets.token_bytes(32))
        if len(key) < MIN_KEY_LENGTH:
            raise MissingSecret(
                f"{KEY_VARIABLE} must be set to a random secret of at least {MIN_KEY_LENGTH} characters "
                f"(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return cls(key.encode("utf-8"))

    def of(self, channel: str, address: str) -> str:
        """A stable id for one address on one channel, e.g. "sms-3f9a..."."""
        digest = hmac.new(self._key, f"{channel}:{address}".encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{channel}-{digest[:40]}"

    def derived_key(self, purpose: str) -> bytes:
        """A key of its own for another use of the same secret (bot.privacy.chat_tokens): nothing
        made with it can stand for a sender id, nor the other way round."""
        return hmac.new(self._key, f"key for {purpose}".encode("utf-8"), hashlib.sha256).digest()
