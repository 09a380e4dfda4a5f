"""Making a child's raw message safe to hand to the language model.

Messages arrive empty, as pure emoji, 10,000 characters long, with control characters, bidi
overrides or a leading "/" (which Rasa would read as an intent shortcut such as ``/restart``).
``clean`` turns any of them into ordinary text; it never raises.
"""

from __future__ import annotations

import re
import unicodedata

# Long messages keep their start and their end: children often put the point last.
MAX_CHARS = 2000
_KEEP_EACH_END = MAX_CHARS // 2 - 2
_JOINERS = {"\u200c", "\u200d"}  # needed inside Indic words and emoji sequences
_SPACES = re.compile(r"\s+")


def clean(raw: object) -> str:
    """Printable, single-spaced, bounded text with no leading slash; "" when nothing is left."""
    if not isinstance(raw, str):
        return ""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text if not _is_invisible_control(ch)
    )
    text = _SPACES.sub(" ", text).strip()
    # Only the channel may use Rasa's "/intent" shortcut; a child's slash is just text.
    text = text.lstrip("/\\ ").strip()
    if len(text) > MAX_CHARS:
        text = f"{text[:_KEEP_EACH_END]} … {text[-_KEEP_EACH_END:]}"
    return text


def has_words(text: str) -> bool:
    """Whether a message has any letters or digits (emoji and punctuation alone do not count)."""
    return any(ch.isalnum() for ch in text)


def _is_invisible_control(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category == "Cf":
        return ch not in _JOINERS
    return category in ("Cs", "Co", "Cn")
