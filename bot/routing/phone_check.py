"""What ``phonenumbers`` says of a number in a country, remembered between runs.

Checking the routing table's few hundred numbers makes phonenumbers compile the metadata of every
country on first use, which costs more than the rest of the start-up put together. Its answers
only change with its version, so they are kept in ``.cache/phonenumbers.json`` (keyed by that
version) and the check runs again only for numbers it has not seen. The cache is an optimisation:
when it cannot be read or written, everything is simply checked again.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import phonenumbers

from bot import PROJECT_ROOT

CACHE_PATH = PROJECT_ROOT / ".cache" / "phonenumbers.json"


@dataclass(frozen=True)
class Verdict:
    parses: bool
    full: bool  # a valid full number of the region
    short: bool  # a valid short code of the region (phonenumbers' short-number data)
    e164: Optional[str] = None
    national: str = ""  # the national significant number, for matching against quotes
    error: str = ""  # why it does not parse


class PhoneCheck:
    """Verdicts by (region, number), computed once per phonenumbers version."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self._path = path or CACHE_PATH
        self._version = phonenumbers.__version__
        self._verdicts: dict[str, dict[str, Any]] = {}
        self._dirty = False
        try:
            stored = json.loads(self._path.read_text(encoding="utf-8"))
            if stored.get("version") == self._version:
                self._verdicts = stored["verdicts"]
        except (OSError, ValueError, KeyError, AttributeError):
            pass

    def verdict(self, number: str, region: str) -> Verdict:
        key = f"{region}|{number}"
        if key not in self._verdicts:
            self._verdicts[key] = asdict(_judge(number, region))
            self._dirty = True
        return Verdict(**self._verdicts[key])

    def save(self) -> None:
        if not self._dirty:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps({"version": self._version, "verdicts": self._verdicts}), encoding="utf-8")
            temporary.replace(self._path)
            self._dirty = False
        except OSError:
            pass


def _judge(number: str, region: str) -> Verdict:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as exc:
        return Verdict(parses=False, full=False, short=False, error=str(exc))
    full = phonenumbers.is_valid_number_for_region(parsed, region)
    return Verdict(
        parses=True,
        full=full,
        short=not full and phonenumbers.is_valid_short_number_for_region(parsed, region),
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) if full else None,
        national=phonenumbers.national_significant_number(parsed),
    )
