"""What an install needs beyond the code: time zones where the system has none, and a lock file
that pins every dependency pyproject.toml names (``make lock`` regenerates it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import tomli

from bot import PROJECT_ROOT

SHOW_KENYA_ZONE = "from bot.routing.helplines import RoutingTable; print(RoutingTable.load().get('KE').time_zone.key)"


def test_time_zones_come_from_tzdata_where_the_system_has_none(tmp_path):
    """PYTHONTZPATH pointing at an empty folder is a machine without /usr/share/zoneinfo."""
    environ = {**os.environ, "PYTHONTZPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", SHOW_KENYA_ZONE], cwd=PROJECT_ROOT, env=environ, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Africa/Nairobi"


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_lock_pins_every_dependency_at_the_version_pyproject_asks():
    project = tomli.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *[d for extra in project["optional-dependencies"].values() for d in extra]]
    pins = {}
    for line in (PROJECT_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        found = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if found:
            pins[normalised(found.group(1))] = found.group(2)
    for requirement in wanted:
        name, version = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^;\s]+)", requirement).groups()
        assert pins.get(normalised(name)) == version, f"constraints.txt lacks {name}=={version}: run `make lock`"
