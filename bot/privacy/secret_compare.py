"""Comparing a secret a request carries (a webhook secret header, a CSRF token) with ours.

``hmac.compare_digest`` refuses two ``str`` with a character that is not ASCII (TypeError), and a
header Sanic could not decode holds surrogates that UTF-8 cannot encode: either way a request
with an odd header answered 500 (found by fuzzing, tests/test_fuzz.py). Compared as bytes, any
text is simply not the secret.
"""

from __future__ import annotations

import hmac
from typing import Optional


def same_secret(given: Optional[str], expected: str | bytes) -> bool:
    """Whether ``given`` is ``expected``, in constant time, whatever text ``given`` holds."""
    wanted = expected.encode("utf-8") if isinstance(expected, str) else expected
    return hmac.compare_digest((given or "").encode("utf-8", "surrogatepass"), wanted)
