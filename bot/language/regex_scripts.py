"""Which scripts a regular expression's every match must contain a letter of.

The crisis net runs thousands of patterns on every message; one written in Thai letters cannot
match a message without any, so it need not run there. The proof is read off the parsed pattern:
a literal letter or a class of letters of one script must be in any match when nothing makes it
optional, which is all this module claims; anything else (``\\w``, ``.``, lookarounds, optional
parts) proves nothing.
"""

from __future__ import annotations

import sre_constants as c
import sre_parse
from typing import Any, Optional

from bot.language.ngram import char_script

Scripts = Optional[frozenset[str]]  # a match contains a letter of one of these; None: no proof
_LARGEST_RANGE = 2000  # a class range larger than this proves nothing (it is not checked letter by letter)


def needs_script(pattern: str) -> Scripts:
    """The scripts every match of ``pattern`` has a letter of, or None if it could match without one.

    Raises ``re.error`` for a pattern that does not compile."""
    return _sequence(sre_parse.parse(pattern))


def _sequence(items: Any) -> Scripts:
    """Every item of a sequence is in the match: the narrowest proof among them."""
    proofs = [proof for proof in (_item(op, av) for op, av in items) if proof is not None]
    return min(proofs, key=len) if proofs else None


def _item(op: Any, av: Any) -> Scripts:
    if op is c.LITERAL:
        return _letters([chr(av)])
    if op is c.IN:
        return _class(av)
    if op is c.SUBPATTERN:
        return _sequence(av[-1])
    if op in (c.MAX_REPEAT, c.MIN_REPEAT):
        low, _high, inner = av
        return _sequence(inner) if low >= 1 else None
    if op is c.BRANCH:
        branches = [_sequence(branch) for branch in av[1]]
        if any(proof is None for proof in branches):
            return None
        return frozenset().union(*branches)  # type: ignore[arg-type]
    return None


def _class(items: Any) -> Scripts:
    chars: list[str] = []
    for op, av in items:
        if op is c.LITERAL:
            chars.append(chr(av))
        elif op is c.RANGE and av[1] - av[0] <= _LARGEST_RANGE:
            chars.extend(chr(code) for code in range(av[0], av[1] + 1))
        else:  # a category (\w, \d), a negation, a huge range
            return None
    return _letters(chars)


def _letters(chars: list[str]) -> Scripts:
    """The scripts of these characters if all are letters (one of them is in the match), else None."""
    if not chars or not all(ch.isalpha() for ch in chars):
        return None
    return frozenset(char_script(ch) for ch in chars)
