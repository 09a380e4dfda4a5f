"""Reading a request's JSON body, the same way on every route of ours that takes one.

Two bodies that ``json.loads`` takes did harm further on (found by fuzzing, tests/test_fuzz.py):
one nested deeper than Python's recursion limit (100,000 ``[``) raises RecursionError, not a
ValueError, and the rest and web chat routes answered 500; and a lone surrogate escape
(``"\ud800"``) makes a Python string that UTF-8 cannot encode, so the first Redis key or hash made
of it failed (a console login answered 500). Here every body that is not JSON of Unicode text gives
:class:`BadBody` with the reason.
"""

from __future__ import annotations

import json
from typing import Any


class BadBody(ValueError):
    """A body that is not JSON; the message says why, for the client."""


def json_body(raw: bytes) -> Any:
    """The JSON value of ``raw`` (UTF-8), or BadBody."""
    try:
        data = json.loads(raw.decode("utf-8"))
        if b"\\u" in raw:  # only an escape makes a lone surrogate: valid UTF-8 bytes cannot
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadBody("body must be UTF-8 JSON") from None
    except UnicodeEncodeError:
        raise BadBody("body must be Unicode text: a \\ud800-\\udfff escape must be half of a pair") from None
    except RecursionError:
        raise BadBody("body must be JSON nested less deeply") from None
    return data
