"""What went wrong in this process, counted by kind, for the health route and the logs.

A fault the child never noticed (a fail-safe reply covered it) is still a fault the operator must
see: each one is logged once with its kind and the exception's class (never a message's text or
an address) and counted here; ``GET /webhooks/<channel>/`` shows the counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Optional

logger = logging.getLogger(__name__)

STORE_DOWN = "store_unavailable"  # Redis refused, frozen or timed out
TURN_FAILED = "turn_failed"  # a turn raised: the child got the fail-safe reply unless Rasa had answered
TURN_SLOW = "turn_slow"  # a turn took longer than the channel's reply limit: the fail-safe reply went first
TURN_SILENT = "turn_silent"  # a turn answered nothing (the action server down or failing): the fail-safe reply


class Faults:
    """This process's fault counts since it started."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def count(self, kind: str, error: Optional[BaseException], where: str) -> None:
        self._counts[kind] += 1
        logger.error("%s in %s%s", kind, where, f" ({type(error).__name__})" if error is not None else "")

    def counts(self) -> dict[str, int]:
        return dict(self._counts)
