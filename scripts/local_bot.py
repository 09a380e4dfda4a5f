"""Start the whole bot (action server + Rasa server) on free loopback ports, as `make run` does.

Shared by the tests (one bot per test session) and by the server benchmark, so both measure
the same thing.
"""

from __future__ import annotations

import json
import os
import random
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

import yaml

from bot import PROJECT_ROOT
from channels.active_credentials import active

VENV_BIN = Path(sys.executable).parent
MODEL = PROJECT_ROOT / "models" / "helpline.tar.gz"
START_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999), for a listener that binds it only
    later (HAProxy, after every server is up): a port from the ephemeral range could meanwhile be
    taken by one of the many outgoing connections of the servers starting ("Address already in use")."""
    while True:
        port = random.randint(20_000, 32_767)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


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
    actions: Optional[subprocess.Popen]  # None when started without one (to test that failure)
    started_in_s: float  # from launch until both servers answer
    log: Path  # the Rasa server's output

    def webhook(self, channel: str) -> str:
        return f"{self.base_url}/webhooks/{channel}/webhook"

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


def start_process(command: list[str], log: Path, env: dict, cwd: Path = PROJECT_ROOT) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def write_endpoints(path: Path, action_url: str, extra: str = "") -> Path:
    """The project's endpoints.yml with the action server at ``action_url``, plus ``extra``."""
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["action_endpoint"]["url"] = action_url
    path.write_text(yaml.safe_dump(endpoints) + extra)
    return path


def write_credentials(path: Path, env: dict[str, str], credentials: Optional[str] = None) -> Path:
    """``credentials`` (YAML text), or as `make run` does: the configured channels of credentials.yml."""
    if credentials is None:
        project = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text(encoding="utf-8"))
        credentials = yaml.safe_dump(active(project, env)[0])
    path.write_text(credentials)
    return path


def bot_env(env: Optional[dict[str, str]] = None) -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}


def start_actions(port: int, log: Path, env: dict[str, str]) -> subprocess.Popen:
    """``rasa run actions`` on ``port`` (not waited for: see :func:`wait_until_up`)."""
    return start_process(
        [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(port)], log, env
    )


def start_rasa(
    port: int,
    model: Path,
    credentials: Path,
    endpoints: Path,
    log: Path,
    env: dict[str, str],
    cwd: Path = PROJECT_ROOT,
) -> subprocess.Popen:
    """``rasa run`` on 127.0.0.1:``port`` (not waited for: see :func:`wait_until_up`)."""
    command = [str(VENV_BIN / "rasa"), "run", "--model", str(model), "--credentials", str(credentials)]
    command += ["--endpoints", str(endpoints), "--interface", "127.0.0.1", "--port", str(port)]
    return start_process(command, log, env, cwd)


def rasa_health(port: int) -> str:
    return f"http://127.0.0.1:{port}/webhooks/rest/"


def stop(processes: list[subprocess.Popen], timeout_s: float = 20) -> None:
    """SIGTERM to each, then SIGKILL to whatever has not exited within ``timeout_s``."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_bot(
    folder: Path,
    model: Path = MODEL,
    credentials: Optional[str] = None,
    env: Optional[dict[str, str]] = None,
    with_actions: bool = True,
    endpoints_extra: str = "",
) -> Iterator[RunningBot]:
    """The bot, by default with the project's credentials.yml and in-memory stores; logs in ``folder``.

    ``credentials`` replaces credentials.yml (YAML text), ``env`` adds environment variables,
    ``with_actions=False`` leaves the action endpoint dead, ``endpoints_extra`` adds to endpoints.yml.
    """
    actions_port, rasa_port = free_port(), free_port()
    endpoints = write_endpoints(folder / "endpoints.yml", f"http://127.0.0.1:{actions_port}/webhook", endpoints_extra)
    env = bot_env(env)
    credentials_path = write_credentials(folder / "credentials.yml", env, credentials)
    launched = time.monotonic()
    actions = start_actions(actions_port, folder / "actions.log", env) if with_actions else None
    server = start_rasa(rasa_port, model, credentials_path, endpoints, folder / "rasa.log", env)
    try:
        if actions is not None:
            wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions, folder / "actions.log")
        wait_until_up(rasa_health(rasa_port), server, folder / "rasa.log")
        yield RunningBot(
            f"http://127.0.0.1:{rasa_port}", server, actions, time.monotonic() - launched, folder / "rasa.log"
        )
    finally:
        stop([p for p in (server, actions) if p is not None])


def start_console(port: int, log: Path, env: dict[str, str]) -> subprocess.Popen:
    """The counsellors' console (``python -m console``) on ``port`` (not waited for)."""
    return start_process([sys.executable, "-m", "console"], log, {**os.environ, **env, "CONSOLE_PORT": str(port)})


@contextmanager
def running_console(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """The counsellors' console as its own process (``python -m console``); yields its base URL."""
    port = free_port()
    log = folder / "console.log"
    process = start_console(port, log, env)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop([process])
