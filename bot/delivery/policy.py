"""When to try a message again, and when to give up on it.

Waits double from one second up to two minutes, each drawn at random between nothing and that
bound ("full jitter"): after an outage, the messages of every child and every server do not all
knock again at the same instant. When the API says how long to wait (Telegram's flood control),
that is honoured, never less. A message still unsent after ``max_age_s`` is failed as too old: a
counsellor's "are you still there?" an hour later would be worse than being told it did not go.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from bot.delivery.attempt import Attempt


@dataclass(frozen=True)
class Policy:
    first_s: float = 1.0
    max_s: float = 120.0
    max_age_s: float = 3600.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def bound(self, failures: int) -> float:
        """The longest wait after the ``failures``-th failed attempt (1, 2, ...)."""
        return min(self.max_s, self.first_s * 2.0 ** min(failures - 1, 30))

    def delay(self, failures: int) -> float:
        """A wait drawn between 0 and :meth:`bound` (full jitter)."""
        return self.rng.uniform(0.0, self.bound(failures))

    def wait_after(self, attempt: Attempt, failures: int) -> float:
        """How long to wait before the next attempt: what the API asked, with a little jitter
        after it (never before), or the backoff."""
        if attempt.retry_after_s is not None:
            return attempt.retry_after_s + self.rng.uniform(0.0, self.first_s)
        return self.delay(failures)

    def too_old(self, created_at: float, now: float) -> bool:
        return now - created_at >= self.max_age_s
