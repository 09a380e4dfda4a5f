"""The session cookie read from the Cookie header, whatever else the header holds.

Sanic parses the whole header with Python's ``http.cookies``, which raises on a name it finds
illegal (``helpline_session=0 <=``: found by fuzzing, a 500). A browser may also hold other
cookies for the same host, written by another application, that the parser refuses; a counsellor
must still be able to log in. So only our cookie's pair is looked for.
"""

from __future__ import annotations

from typing import Iterable, Optional


def cookie_value(headers: Iterable[str], name: str) -> Optional[str]:
    """The value of cookie ``name`` in the Cookie header(s) (RFC 6265: ``name=value`` pairs joined
    by ``;``; a value may be quoted); None when it is absent, empty, or not printable ASCII (a
    session token never is; bytes that are not UTF-8 reach here as surrogates, which a Redis key
    cannot hold: found by fuzzing, a 500)."""
    for header in headers:
        for pair in header.split(";"):
            key, equals, value = pair.strip().partition("=")
            if equals and key == name:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                return value if value.isascii() and value.isprintable() and value else None
    return None
