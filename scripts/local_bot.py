"""Start the whole bot (action server + Rasa server) on free loopback ports, as `make run` does.

Shared by the tests (one bot per test session) and by the server benchmark, so both measure
the same thing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

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
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@dataclass
class RunningBot:
    """A started bot; ``say`` posts one message to the rest channel and returns the replies."""

    base_url: str
    server: subprocess.Popen
    actions: subprocess.Popen
    started_in_s: float  # from launch until both servers answer

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


def _start(command: list[str], log: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


@contextmanager
def running_bot(folder: Path, model: Path = MODEL) -> Iterator[RunningBot]:
    """The bot with the rest channel and in-memory stores; logs go to ``folder``."""
    actions_port, rasa_port = free_port(), free_port()
    endpoints = folder / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n')
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    rasa = str(VENV_BIN / "rasa")
    launched = time.monotonic()
    actions = _start([rasa, "run", "actions", "--actions", "actions", "--port", str(actions_port)], folder / "actions.log", env)
    server = _start(
        [rasa, "run", "--model", str(model), "--credentials", "credentials.yml", "--endpoints", str(endpoints),
         "--interface", "127.0.0.1", "--port", str(rasa_port)],
        folder / "rasa.log", env,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions, folder / "actions.log")
        wait_until_up(f"http://127.0.0.1:{rasa_port}/webhooks/rest/", server, folder / "rasa.log")
        yield RunningBot(f"http://127.0.0.1:{rasa_port}", server, actions, time.monotonic() - launched)
    finally:
        for process in (server, actions):
            process.terminate()
        for process in (server, actions):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
