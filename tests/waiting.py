"""Waiting in tests for what another process does (a fake API receiving a message, a webhook)."""

from __future__ import annotations

import time
from typing import Any, Callable


def eventually(check: Callable[[], Any], timeout_s: float = 30) -> Any:
    """What ``check`` returns once it is truthy (tried every 0.1 s), or AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("never happened")
