"""Turn keys: what makes a turn's side effects happen once when another server runs it again.

Several Rasa servers share one Redis; a child's message is journalled and handled by whichever
server holds the conversation's lease. A server that dies mid-turn (after the action ran, before the
tracker was saved) leaves the turn to another server, which runs it again. The channels put a turn
key in each UserMessage's metadata, ``metadata["turn"]``: unique per inbound message and the same
when that message is handled again (e.g. "sms:<hashed sender>:<MessageSid>"). The statistics, the
handoff queue and the relay take it so that a second run counts nothing, opens no second ticket and
writes the child's message into the ticket's conversation once. Without a key (web chat, rest) the
turn behaves as it always did.

The stores never keep the key itself, only :func:`mark` of it (a digest), and only for
:data:`TURN_KEPT_S`: the time within which a turn can be run again (a webhook's retries and the
journal's leases are over long before, as data/privacy.yml's ``dedupe_hours``).
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Optional

TURN_KEPT_S = 86_400  # a day: what a turn did is remembered this long, then it is a new turn
MAX_TURN_KEY = 500  # longer is not a channel's key


def turn_of(metadata: Optional[Mapping[str, Any]]) -> str:
    """The turn key in a message's metadata (a UserMessage's, or ``tracker.latest_message["metadata"]``);
    "" when there is none."""
    turn = metadata.get("turn") if isinstance(metadata, Mapping) else None
    return turn if isinstance(turn, str) and 0 < len(turn) <= MAX_TURN_KEY else ""


def mark(turn: str) -> str:
    """What the stores keep of a turn key: a digest, which names neither the child nor the message."""
    return hashlib.sha256(f"helpline-turn\x00{turn}".encode()).hexdigest()[:32]
