"""SMS segment arithmetic, so replies to children on basic phones stay within a few segments.

A long SMS is sent as several concatenated segments. Many basic phones and some networks drop or
garble messages of more than about three segments, and each segment may cost the helpline money,
so replies are measured here and, when too long, split at natural places into several messages.

An SMS is GSM-7 encoded (160 septets, 153 per segment when concatenated) when every character is in
the GSM 03.38 default alphabet or its extension table; one other character (an emoji, "ê", Arabic,
Chinese...) makes the whole message UCS-2 (70 UTF-16 code units, 67 per concatenated segment).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Optional

# The GSM 03.38 default alphabet (0x1B, the escape to the extension table, left out).
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: each is sent as escape + character, so costs 2 septets.
GSM7_EXTENDED: frozenset[str] = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
# (single-segment limit, per-segment limit when concatenated), in septets or UTF-16 code units.
LIMITS: dict[str, tuple[int, int]] = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    count: int


def _is_high_surrogate(char: str) -> bool:
    return "\ud800" <= char <= "\udbff"


def _is_low_surrogate(char: str) -> bool:
    return "\udc00" <= char <= "\udfff"


def _utf16_widths(text: str) -> list[int]:
    """UTF-16 code units per unsplittable piece: astral characters (emoji) are a surrogate pair.

    A pair that is already split into two lone surrogates in the str is kept together too.
    """
    widths: list[int] = []
    i = 0
    while i < len(text):
        char = text[i]
        if _is_high_surrogate(char) and i + 1 < len(text) and _is_low_surrogate(text[i + 1]):
            widths.append(2)
            i += 2
            continue
        widths.append(2 if ord(char) > 0xFFFF else 1)
        i += 1
    return widths


def _encoding_and_widths(text: str) -> tuple[str, list[int]]:
    if all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text):
        return GSM7, [2 if char in GSM7_EXTENDED else 1 for char in text]
    return UCS2, _utf16_widths(text)


def _count(widths: Iterable[int], total: int, single: int, per_part: int) -> int:
    """Segments needed when no piece (extended character, surrogate pair) may straddle two."""
    if total <= single:
        return 1
    count, used = 1, 0
    for width in widths:
        if used + width > per_part:
            count += 1
            used = 0
        used += width
    return count


def segments(text: str) -> Segments:
    """How ``text`` would be sent: its encoding, its length in that encoding and its segments."""
    encoding, widths = _encoding_and_widths(text)
    single, per_part = LIMITS[encoding]
    units = sum(widths)
    return Segments(encoding, units, _count(widths, units, single, per_part))


def fits(text: str, max_segments: int = 3) -> bool:
    """Whether ``text`` goes out as at most ``max_segments`` segments."""
    return segments(text).count <= max_segments


# A sentence end: terminator (and closing quotes/brackets) before whitespace. The CJK full-width
# terminators end a sentence even without a following space, since those scripts use none.
_SENTENCE_END = re.compile(r"(?:[.!?۔।][\"'”’»)\]]*(?=\s)|[。！？][\"'”’」』）)]*)")
# "1." or "12." alone at the start of a line: a menu number, not the end of a sentence.
_MENU_NUMBER = re.compile(r"\s*\d+\.")
_JOINERS = {"\u200d", "\u200c"}  # zero-width (non-)joiner: part of the grapheme either side


def _is_continuation(char: str) -> bool:
    """A character that belongs to the one before it (accent, variation selector, joiner...)."""
    return (
        _is_low_surrogate(char)
        or char in _JOINERS
        or unicodedata.category(char) in ("Mn", "Me")
        or "\ufe00" <= char <= "\ufe0f"
        or "\U000e0100" <= char <= "\U000e01ef"
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin-tone modifiers
    )


def _longest_fitting_prefix(text: str, max_segments: int) -> int:
    """Length of the longest prefix of ``text`` within ``max_segments`` segments (at least 1).

    Segments only grow as characters are added, so the length can be found by bisection.
    """
    # Every character is at least one unit and no segment holds more than 160 units.
    low, high = 1, min(len(text), 160 * max_segments)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[:middle], max_segments):
            low = middle
        else:
            high = middle - 1
    return low


def _cut(rest: str, limit: int) -> int:
    """Where to end the next part of ``rest``, whose first ``limit`` characters fit.

    Preference: a line break in the later half (so numbered menu lines stay whole), else the last
    line break or sentence end, else the last space, else the limit itself, moved back so that a
    character and its accents, joiners or surrogate stay together.
    """
    window = rest[: limit + 1]  # a boundary may be the whitespace just past the limit
    content_start = len(rest) - len(rest.lstrip())  # a part must not be only whitespace

    def usable(position: int) -> bool:
        return content_start < position <= limit

    newline: Optional[int] = None
    space: Optional[int] = None
    for position, char in enumerate(window):
        if char.isspace() and usable(position):
            space = position
            if char in "\n\r\u2028\u2029\x85\v\f":
                newline = position

    sentence: Optional[int] = None
    for match in _SENTENCE_END.finditer(window):
        position = match.end()
        line_start = rest.rfind("\n", 0, match.start()) + 1
        if usable(position) and not _MENU_NUMBER.fullmatch(rest[line_start:position]):
            sentence = position

    if newline is not None and newline >= limit // 2:
        return newline
    boundaries = [position for position in (newline, sentence) if position is not None]
    if boundaries:
        return max(boundaries)
    if space is not None:
        return space

    def inside_cluster(position: int) -> bool:
        return _is_continuation(rest[position]) or rest[position - 1] in _JOINERS

    cut = limit
    while cut > 1 and limit - cut < 16 and inside_cluster(cut):
        cut -= 1
    if inside_cluster(cut):
        cut = limit  # an endless cluster: cut it, but never inside a surrogate pair
        if _is_low_surrogate(rest[cut]) and _is_high_surrogate(rest[cut - 1]):
            cut -= 1
    return cut


def split(text: str, max_segments: int = 3) -> list[str]:
    """``text`` as consecutive parts that each go out in at most ``max_segments`` segments.

    Parts end at sentence ends or line breaks where possible, else at a space, else wherever the
    limit falls. Only the whitespace at a cut is dropped, so joining the parts with a space or line
    break gives back the text. Text that already fits comes back unchanged as the only part.
    """
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1, not {max_segments}")
    if fits(text, max_segments):
        return [text]
    parts: list[str] = []
    rest = text
    while rest:
        if fits(rest, max_segments):
            parts.append(rest)
            break
        cut = _cut(rest, _longest_fitting_prefix(rest, max_segments))
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return parts
