"""The channels to start: those of credentials.yml whose own environment variables are set.

A fresh machine has no Telegram token or Twilio number, and Rasa refuses to start when a
credentials file names a variable that is not set; so `make run` writes the sections that are
configured (a variable only that section uses is set) to a file it passes to Rasa, and says which
channels stay off. A configured section keeps all its variables: a missing one stops Rasa, named.

    python -m channels.active_credentials credentials.yml > .rasa/credentials.active.yml
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from typing import Any, Mapping

import yaml

from bot.wiring.settings import Settings

_VARIABLE = re.compile(r"\$\{(\w+)\}")


def variables(section: Any) -> set[str]:
    if not isinstance(section, dict):
        return set()
    return {name for value in section.values() for name in _VARIABLE.findall(str(value))}


def substituted(section: Any, environ: Mapping[str, str]) -> dict[str, Any]:
    """A section with each ``${VARIABLE}`` replaced by its value, as Rasa reads credentials.yml."""
    if not isinstance(section, dict):
        return {}
    return {
        key: _VARIABLE.sub(lambda found: environ.get(found.group(1), ""), value) if isinstance(value, str) else value
        for key, value in section.items()
    }


def active(credentials: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """(the sections to start, a line for each channel left off)."""
    used = Counter(name for section in credentials.values() for name in variables(section))
    kept: dict[str, Any] = {}
    off: list[str] = []
    for channel, section in credentials.items():
        names = variables(section)
        own = {name for name in names if used[name] == 1} or names
        if not names or any(environ.get(name) for name in own):
            kept[channel] = section
        else:
            off.append(f"{channel}: off (set {', '.join(sorted(names))} to start it)")
    return kept, off


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "credentials.yml"
    with open(path, encoding="utf-8") as handle:
        credentials = yaml.safe_load(handle) or {}
    kept, off = active(credentials, Settings.from_environ().environment)
    for line in off:
        print(line, file=sys.stderr)
    sys.stdout.write(yaml.safe_dump(kept, sort_keys=False) if kept else "{}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
