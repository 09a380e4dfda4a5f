"""The bot as a cluster of real processes on loopback: HAProxy in front of N Rasa servers, M action
servers and K consoles, on one Redis (a private redis-server unless given one).

    with Cluster(folder, rasa=3, actions=2, consoles=2, credentials=..., env=...) as cluster:
        post(cluster.webhook("sms"), ...)         # through HAProxy, round-robin over the Rasa servers
        cluster.kill(0); cluster.terminate(1)     # SIGKILL / SIGTERM one Rasa server
        cluster.restart(0)                        # again, on the same port (HAProxy takes it back)

HAProxy listens on three ports: the channels' webhooks (``url``), the consoles (``console_url``)
and the action servers. Every Rasa server's endpoints.yml names HAProxy's action port, which
balances the action servers too, rather than each Rasa server pinned to one of them: action servers
keep no state between calls (each call carries the tracker), so any of them can answer any call,
and one action server down then costs no Rasa server its custom actions (HAProxy's health checks
take it out; a pinned Rasa server would answer every turn with the fail-safe reply meanwhile). The
extra hop costs well under a millisecond on loopback.

Each Rasa server has a stable outbox consumer name (``rasa-<n>``, HELPLINE_OUTBOX_CONSUMER), so a
restarted server goes on with the messages it was sending. Used by tests/test_cluster.py and
scripts/bench_cluster.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Optional

import redis
import redis.asyncio as aioredis

from bot import PROJECT_ROOT
from bot.handoff.counsellors import Counsellors
from bot.privacy.sender_ids import SenderIds
from scripts.local_bot import (
    MODEL,
    bot_env,
    free_port,
    http,
    listening_port,
    rasa_health,
    start_actions,
    start_console,
    start_rasa,
    stop,
    wait_until_up,
    write_credentials,
    write_endpoints,
)
from scripts.private_redis import PrivateRedis

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CHECK_MS = 300  # HAProxy checks each server this often; a stopping (503) or dead one is out after two misses
PREFIX = "cluster:"


@dataclass
class Server:
    """One process of the cluster, restartable on the same port."""

    kind: str  # rasa, actions or console
    index: int
    port: int
    folder: Path
    health: str  # the URL that answers 200 once it is up
    launch: Callable[["Server"], subprocess.Popen]
    process: Optional[subprocess.Popen] = None
    starts: int = 0
    exits: list[Optional[int]] = field(default_factory=list)  # exit codes of its earlier runs

    @property
    def name(self) -> str:
        return f"{self.kind}{self.index + 1}"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.{self.starts}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        assert not self.running, f"{self.name} is running"
        self.starts += 1
        self.process = self.launch(self)

    def wait_up(self) -> None:
        assert self.process is not None
        wait_until_up(self.health, self.process, self.log)

    def ended(self, code: Optional[int]) -> None:
        self.exits.append(code)
        self.process = None


class Cluster:
    """See the module's docstring. ``env`` adds to every process's environment (REDIS_URL and
    HELPLINE_REDIS_PREFIX are the cluster's); ``credentials`` is credentials.yml's text."""

    def __init__(
        self,
        folder: Path,
        model: Path = MODEL,
        rasa: int = 3,
        actions: int = 2,
        consoles: int = 2,
        credentials: Optional[str] = None,
        env: Optional[dict[str, str]] = None,
        redis_url: Optional[str] = None,
        prefix: str = PREFIX,
        endpoints: Optional[str] = None,
        cwd: Path = PROJECT_ROOT,
    ) -> None:
        """``endpoints``: endpoints.yml's text (the project's, with HAProxy's action port, unless given);
        ``cwd``: where the Rasa servers run (another bot's folder, for a stock Rasa cluster)."""
        self.folder, self.model, self.prefix = folder, model, prefix
        self._redis_url = redis_url
        self.private_redis: Optional[PrivateRedis] = None
        self.sender_key = (env or {}).get("HELPLINE_SENDER_KEY") or secrets.token_hex(32)
        self._env = {**(env or {}), "HELPLINE_SENDER_KEY": self.sender_key, "HELPLINE_REDIS_PREFIX": prefix}
        self._credentials, self._endpoints, self._cwd = credentials, endpoints, cwd
        self.port, self.console_port, self.actions_port = listening_port(), listening_port(), listening_port()
        self.rasa = [self._server("rasa", i, self._launch_rasa, rasa_health) for i in range(rasa)]
        self.actions = [
            self._server("actions", i, self._launch_actions, lambda p: f"http://127.0.0.1:{p}/health")
            for i in range(actions)
        ]
        self.consoles = [
            self._server("console", i, self._launch_console, lambda p: f"http://127.0.0.1:{p}/")
            for i in range(consoles)
        ]
        self.haproxy: Optional[subprocess.Popen] = None

    def _server(
        self, kind: str, index: int, launch: Callable[[Server], subprocess.Popen], health: Callable[[int], str]
    ) -> Server:
        port = free_port()
        return Server(kind, index, port, self.folder, health(port), launch)

    # -- starting and stopping ------------------------------------------------------------------

    def __enter__(self) -> "Cluster":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: Optional[type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        self.close()

    @property
    def redis_url(self) -> str:
        if self._redis_url:
            return self._redis_url
        assert self.private_redis is not None
        return self.private_redis.url

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self._redis_url:
            self.private_redis = PrivateRedis(self.folder)
            self.private_redis.start()
        self.env = bot_env({**self._env, "REDIS_URL": self.redis_url})
        self.endpoints = self.folder / "endpoints.yml"
        if self._endpoints is None:
            write_endpoints(self.endpoints, f"http://127.0.0.1:{self.actions_port}/webhook")
        else:
            self.endpoints.write_text(self._endpoints)
        self.credentials = write_credentials(self.folder / "credentials.yml", self.env, self._credentials)
        everything = self.actions + self.consoles + self.rasa
        for server in everything:  # all at once: Rasa's model loading takes the longest
            server.start()
        for server in everything:
            server.wait_up()
        config = self.folder / "haproxy.cfg"
        config.write_text(self.haproxy_config())
        check = subprocess.run([HAPROXY, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused {config}:\n{check.stdout}{check.stderr}")
        log = (self.folder / "haproxy.log").open("w")
        self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
        wait_until_up(f"{self.url}/webhooks/rest/", self.haproxy, self.folder / "haproxy.log")
        if self.consoles:
            wait_until_up(f"{self.console_url}/", self.haproxy, self.folder / "haproxy.log")

    def close(self) -> None:
        stop([self.haproxy] if self.haproxy else [])
        running = [s for s in self.rasa + self.consoles + self.actions if s.process is not None]
        stop([s.process for s in running if s.process is not None])
        for server in running:
            server.ended(server.process.poll() if server.process else None)
        if self.private_redis is not None:
            self.private_redis.close()

    def _launch_rasa(self, server: Server) -> subprocess.Popen:
        env = {**self.env, "HELPLINE_OUTBOX_CONSUMER": f"rasa-{server.index + 1}"}
        return start_rasa(server.port, self.model, self.credentials, self.endpoints, server.log, env, self._cwd)

    def _launch_actions(self, server: Server) -> subprocess.Popen:
        return start_actions(server.port, server.log, self.env)

    def _launch_console(self, server: Server) -> subprocess.Popen:
        return start_console(server.port, server.log, self.env)

    # -- faults ---------------------------------------------------------------------------------

    def kill(self, index: int) -> None:
        """SIGKILL to Rasa server ``index``: it dies at once, holding whatever it was doing."""
        server = self.rasa[index]
        assert server.process is not None
        server.process.kill()
        server.ended(server.process.wait())

    def terminate(self, index: int, timeout_s: float = 60) -> Optional[int]:
        """SIGTERM to Rasa server ``index`` and wait for it to exit; its exit code (None: it did not)."""
        self.signal(index, signal.SIGTERM)
        return self.wait_exit(index, timeout_s)

    def signal(self, index: int, number: int) -> None:
        server = self.rasa[index]
        assert server.process is not None
        server.process.send_signal(number)

    def wait_exit(self, index: int, timeout_s: float = 60) -> Optional[int]:
        server = self.rasa[index]
        assert server.process is not None
        try:
            code: Optional[int] = server.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
            code = None
        server.ended(code)
        return code

    def restart(self, index: int) -> None:
        """Rasa server ``index`` again (after :meth:`kill` or :meth:`terminate`), on its port; back
        once it answers and HAProxy's checks have seen it."""
        server = self.rasa[index]
        server.start()
        server.wait_up()
        time.sleep(3 * CHECK_MS / 1000)

    # -- addresses ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    def webhook(self, channel: str) -> str:
        """The channel's webhook through HAProxy (as RunningBot.webhook, so the tests' helpers take it)."""
        return f"{self.url}/webhooks/{channel}/webhook"

    @property
    def base_url(self) -> str:
        return self.url

    def haproxy_config(self) -> str:
        def backend(name: str, check: str, servers: list[Server]) -> str:
            lines = [
                f"backend {name}",
                "  balance roundrobin",
                f"  option httpchk GET {check}",
                "  http-check expect status 200",
                f"  default-server inter {CHECK_MS}ms fastinter {CHECK_MS}ms downinter {CHECK_MS}ms rise 1 fall 2",
            ]
            lines += [f"  server {s.name} 127.0.0.1:{s.port} check" for s in servers]
            return "\n".join(lines)

        return f"""global
  maxconn 4096
  stats socket {self.folder / "haproxy.sock"} mode 600 level admin

defaults
  mode http
  timeout connect 1s
  timeout client 120s
  timeout server 120s
  timeout http-request 10s
  timeout check 5s  # a server busy with turns answers its health check late, not wrongly
  # A request that found its server dead (refused, closed without answering) goes to another one:
  # the webhooks are idempotent (each carries the platform's id, deduplicated), as are the
  # console's replies (idempotency keys). The body is buffered so that it can be sent again.
  option http-buffer-request
  retries 3
  retry-on conn-failure empty-response
  option redispatch 1

frontend channels
  bind 127.0.0.1:{self.port}
  default_backend rasa

frontend consoles
  bind 127.0.0.1:{self.console_port}
  option forwardfor
  # The event stream's few bytes go out at once: without this, each event waited about 200 ms
  # in HAProxy for more data to send with it (measured: the "opened" event of a crisis ticket).
  option http-no-delay
  default_backend consoles

frontend actions
  bind 127.0.0.1:{self.actions_port}
  default_backend actions

{backend("rasa", "/webhooks/rest/", self.rasa)}

{backend("consoles", "/", self.consoles)}

{backend("actions", "/health", self.actions)}
"""

    def _admin(self, command: str) -> str:
        """A command to HAProxy's stats socket; its answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.folder / "haproxy.sock"))
            sock.sendall(command.encode() + b"\n")
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        return raw.decode()

    def use(self, count: int) -> None:
        """Only the first ``count`` Rasa servers take requests (the others in maintenance, still running)."""
        for server in self.rasa:
            state = "ready" if server.index < count else "maint"
            self._admin(f"set server rasa/{server.name} state {state}")

    def served(self) -> dict[str, int]:
        """How many requests HAProxy sent each server so far (its stats: ``stot``), by name."""
        lines = self._admin("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {r["svname"]: int(r["stot"] or 0) for r in rows if r["svname"] not in ("FRONTEND", "BACKEND")}

    # -- what the cluster keeps -------------------------------------------------------------------

    def sender_id(self, channel: str, address: str) -> str:
        """The conversation's id, as the channels derive it from the child's address."""
        return SenderIds(self.sender_key.encode()).of(channel, address)

    def tracker_events(self, sender_id: str) -> list[dict[str, Any]]:
        """The stored tracker's events (channels.tracker_store: ``<prefix>conversation:<sender>``)."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            raw = client.get(f"{self.prefix}conversation:{sender_id}")
        finally:
            client.close()
        return json.loads(raw)["events"] if raw else []

    def add_counsellor(self, name: str, helpline: str, password: str) -> None:
        async def add() -> None:
            client = aioredis.from_url(self.redis_url)
            await Counsellors(client, self.prefix + "console:").add(name, helpline, password)
            await client.close()

        asyncio.run(add())

    def health(self, index: int) -> tuple[int, bytes]:
        return http("GET", self.rasa[index].health)
