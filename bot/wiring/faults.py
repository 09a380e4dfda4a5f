"""What went wrong in this process, counted by kind, for the health route and the logs.

A fault the child never noticed (a fail-safe reply covered it) is still a fault the operator must
see: each one is logged once with its kind and the exception's class (never a message's text or
an address) and counted here; ``GET /webhooks/<channel>/`` shows the counts.
"""

from __future__ import annotations

import logging
from collections import Counter

logger = logging.getLogger(__name__)

STORE_DOWN = "store_unavailable"  # Redis refused, frozen or timed out


class Faults:
    """This process's fault counts since it started."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def count(self, kind: str, error: BaseException, where: str) -> None:
        self._counts[kind] += 1
        logger.error("%s in %s (%s): answered with the fail-safe reply", kind, where, type(error).__name__)

    def counts(self) -> dict[str, int]:
        return dict(self._counts)
