"""Shared fixtures: the real bot (action server + Rasa server with our channels) on loopback ports."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from bot import PROJECT_ROOT
from scripts.local_bot import MODEL, RunningBot, running_bot


@pytest.fixture(scope="session")
def model() -> Path:
    """The trained model, trained first if config, domain or data changed."""
    subprocess.run([str(PROJECT_ROOT / "scripts" / "train.sh")], check=True, cwd=PROJECT_ROOT)
    return MODEL


@pytest.fixture(scope="session")
def bot(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """The whole bot as `make run` starts it, on free loopback ports."""
    with running_bot(tmp_path_factory.mktemp("bot"), model) as started:
        yield started
