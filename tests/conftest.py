"""Shared fixtures: the real bot (action server + Rasa server with our channels) on loopback ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from bot import PROJECT_ROOT

VENV_BIN = Path(sys.executable).parent
MODEL = PROJECT_ROOT / "models" / "helpline.tar.gz"
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body: Optional[bytes] = None, headers: Optional[dict] = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if http("GET", url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not start in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


class RunningBot:
    """A started bot; ``say`` posts one message to the rest channel and returns the replies."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def post(self, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
        status, raw = http("POST", f"{self.base_url}/webhooks/rest/webhook", body, {"Content-Type": content_type})
        try:
            return status, json.loads(raw or b"null")
        except json.JSONDecodeError:
            return status, raw

    def say(self, sender: str, text: Any, metadata: Optional[dict] = None) -> list[dict]:
        payload: dict[str, Any] = {"sender": sender, "message": text}
        if metadata is not None:
            payload["metadata"] = metadata
        status, replies = self.post(json.dumps(payload).encode())
        assert status == 200, (status, replies)
        return replies


@pytest.fixture(scope="session")
def model() -> Path:
    """The trained model, trained first if config, domain or data changed."""
    subprocess.run([str(PROJECT_ROOT / "scripts" / "train.sh")], check=True, cwd=PROJECT_ROOT)
    return MODEL


def start(command: list[str], log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


@pytest.fixture(scope="session")
def bot(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """The whole bot as `make run` starts it, on free loopback ports."""
    folder = tmp_path_factory.mktemp("bot")
    actions_port, rasa_port = free_port(), free_port()
    endpoints = folder / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n')
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    rasa = str(VENV_BIN / "rasa")
    actions = start([rasa, "run", "actions", "--actions", "actions", "--port", str(actions_port)], folder / "actions.log", env)
    server = start(
        [rasa, "run", "--model", str(model), "--credentials", "credentials.yml", "--endpoints", str(endpoints),
         "--interface", "127.0.0.1", "--port", str(rasa_port)],
        folder / "rasa.log", env,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions, folder / "actions.log")
        wait_until_up(f"http://127.0.0.1:{rasa_port}/webhooks/rest/", server, folder / "rasa.log")
        yield RunningBot(f"http://127.0.0.1:{rasa_port}")
    finally:
        for process in (server, actions):
            process.terminate()
        for process in (server, actions):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
