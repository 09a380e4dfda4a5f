"""Console benchmark: do password guessers stop early, and does the console stay fast for everyone else?

Starts a real console process (its own Redis key prefix, the default login settings, this machine as
its trusted proxy), logs a counsellor in, and reads ``GET /api/queue`` over and over as their page
would, one request at a time: its p99 in idle windows before, between and after the scenarios, and
while 8 guesser processes send 200 wrong passwords

- ``one_account``: all at one account, from one address;
- ``many_accounts``: spread over 20 accounts, each guess from an address of its own (what a botnet
  does; the addresses come in X-Forwarded-For from the trusted proxy);
- ``one_address``: spread over 20 accounts from one address.

For each it prints how many of the 200 passwords were checked (the console's own failure counts in
Redis: a guess that is throttled is never checked), the rest refused unchecked, the answers by
status (the guess that locks is checked and answered 429), the p99 of the counsellor's reads and
its ratio to the mean of the idle windows just before and after it (this machine is shared: the
idle windows' spread is printed as the noise), and the console's CPU time. The guessers are processes of their own
(scripts.bench_guesser), started before the clock. Targets: one account is
throttled after a handful; p99 with 8 guessers within 2x of idle.

    make bench-console
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import redis.asyncio as aioredis

from bot import PROJECT_ROOT
from bot.handoff.counsellors import Counsellors
from scripts.local_bot import free_port, start_process, wait_until_up

REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "benchmark password 123"
GUESSERS, GUESSES, ACCOUNTS = 8, 200, 20
IDLE_S = 20  # each idle window: before the first scenario and after each
READ_PAUSE_S = 0.02  # between a counsellor's reads: a busy page, not a flood
SCENARIOS = ("one_account", "many_accounts", "one_address")


def guesses(scenario: str) -> list[tuple[str, Optional[str]]]:
    """The 200 (username, forwarded address) a scenario's guessers send; None: no X-Forwarded-For."""
    if scenario == "one_account":
        return [("target", "198.51.100.1")] * GUESSES
    if scenario == "many_accounts":
        return [(f"many-{i % ACCOUNTS}", f"10.{i // 250}.{i % 250}.{7 + i % 3}") for i in range(GUESSES)]
    return [(f"spread-{i % ACCOUNTS}", "203.0.113.50") for i in range(GUESSES)]


class Reader(threading.Thread):
    """A logged-in counsellor's page reading the queue, one request at a time, until stopped."""

    def __init__(self, port: int, cookie: str) -> None:
        super().__init__(daemon=True)
        self.port, self.cookie = port, cookie
        self.latencies: list[float] = []
        self.running = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.stopped.is_set():
            started = time.perf_counter()
            connection.request("GET", "/api/queue", headers={"Cookie": self.cookie})
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200, answer.status
            if self.running.is_set():
                self.latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(READ_PAUSE_S)

    def measure(self, during: Callable[[], None]) -> list[float]:
        """The latencies recorded while ``during()`` runs."""
        self.latencies = []
        self.running.set()
        during()
        self.running.clear()
        return list(self.latencies)


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def cpu_s(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def prepare(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    try:
        accounts = Counsellors(client, prefix + "console:")
        for name in ["reader", "target", *(f"{kind}-{i}" for kind in ("many", "spread") for i in range(ACCOUNTS))]:
            await accounts.add(name, "NG", PASSWORD)
    finally:
        await client.close()


async def checked(prefix: str, scenario: str) -> int:
    """How many passwords the console checked: its failure counts (a throttled guess is never counted)."""
    names = {username for username, _ in guesses(scenario)}
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        counts = [await client.get(f"{prefix}console:login-fail:account:{name}") for name in names]
    finally:
        await client.close()
    return sum(int(count or 0) for count in counts)


async def forget(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.close()


def log_in(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"username": "reader", "password": PASSWORD})
    connection.request("POST", "/api/login", body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 200, answer.status
    return answer.headers["Set-Cookie"].split(";")[0]


def attack(port: int, scenario: str, measure: Callable[[Callable[[], None]], list[float]]) -> tuple[dict, list]:
    """Run the scenario's 8 guessers (scripts.bench_guesser, started before the clock so their start-up is
    not measured) to the end, ``measure``-ing meanwhile; how the 200 guesses were answered, and the reads."""
    everything = guesses(scenario)
    guessers = [
        subprocess.Popen(
            [sys.executable, "-m", "scripts.bench_guesser"],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(GUESSERS)
    ]
    time.sleep(2)  # started, waiting for their orders
    statuses: list[int] = []

    def run() -> None:
        for i, process in enumerate(guessers):
            assert process.stdin is not None
            process.stdin.write(json.dumps({"port": port, "guesses": everything[i::GUESSERS]}) + "\n")
            process.stdin.flush()
        for process in guessers:
            out, _ = process.communicate(timeout=600)
            statuses.extend(json.loads(out))

    reads = measure(run)
    return {str(code): statuses.count(code) for code in sorted(set(statuses))}, reads


def main() -> int:
    prefix = f"bench-console-{secrets.token_hex(4)}:"
    port = free_port()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        desks = Path(folder) / "handoff.yml"
        desks.write_text("desks:\n  NG:\n    name: Bench desk\n    max_wait_minutes: 60\n")
        env = {
            **os.environ,
            "REDIS_URL": REDIS_URL,
            "HELPLINE_REDIS_PREFIX": prefix,
            "HELPLINE_HANDOFF_FILE": str(desks),
            "CONSOLE_PORT": str(port),
            "CONSOLE_PROXIES": "127.0.0.1",
        }
        log = Path(folder) / "console.log"
        console = start_process([sys.executable, "-m", "console"], log, env)
        try:
            asyncio.run(prepare(prefix))
            wait_until_up(f"http://127.0.0.1:{port}/", console, log)
            reader = Reader(port, log_in(port))
            reader.start()
            time.sleep(1)  # warm

            def idle(number: int) -> dict[str, Any]:
                before = cpu_s(console.pid)
                reads = reader.measure(lambda: time.sleep(IDLE_S))
                return {
                    "scenario": f"idle {number}",
                    "reads": len(reads),
                    "p99_ms": p99(reads),
                    "cpu_s": cpu_s(console.pid) - before,
                }

            rows.append(idle(1))
            for number, scenario in enumerate(SCENARIOS, start=2):
                before = cpu_s(console.pid)
                answers, during = attack(port, scenario, reader.measure)
                looked = asyncio.run(checked(prefix, scenario))
                rows.append(
                    {
                        "scenario": scenario,
                        "reads": len(during),
                        "p99_ms": p99(during),
                        "cpu_s": cpu_s(console.pid) - before,
                        "checked": looked,
                        "throttled": GUESSES - looked,
                        "answers": answers,
                    }
                )
                rows.append(idle(number))  # after this scenario, before the next: the machine drifts
            reader.stopped.set()
        finally:
            console.terminate()
            console.wait(timeout=20)
            asyncio.run(forget(prefix))
    report(rows)
    return 0


def report(rows: list[dict[str, Any]]) -> None:
    """Each scenario's p99 against the mean of the idle windows just before and after it; the idle
    windows' own spread says how much this shared machine moved during the run."""
    for i, row in enumerate(rows):
        row["ratio"] = (
            row["p99_ms"] / ((rows[i - 1]["p99_ms"] + rows[i + 1]["p99_ms"]) / 2) if "checked" in row else None
        )
    idles = [row["p99_ms"] for row in rows if "checked" not in row]
    print(f"{GUESSERS} guessers, {GUESSES} wrong passwords per scenario; a counsellor reads GET /api/queue meanwhile")
    print(
        "| window | checked of 200 | refused unchecked | answers | reads | p99 ms | p99 / idle around | console CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        answers = " ".join(f"{code}:{n}" for code, n in row.get("answers", {}).items()) or "-"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] else "-"
        print(
            f"| {row['scenario']} | {row.get('checked', '-')} | {row.get('throttled', '-')} | {answers} | "
            f"{row['reads']} | {row['p99_ms']:.1f} | {ratio} | {row['cpu_s']:.1f} |"
        )
    print(
        f"idle p99 from {min(idles):.1f} to {max(idles):.1f} ms in this run ({max(idles) / min(idles):.2f}x): the noise"
    )
    figures: dict[str, tuple[float, str]] = {
        "idle_p99_ms_min": (min(idles), "ms"),
        "idle_p99_ms_max": (max(idles), "ms"),
        "idle_p99_spread": (max(idles) / min(idles), "x"),
    }
    for row in rows:
        if row["ratio"] is not None:
            name = row["scenario"]
            figures[f"{name}_p99_ms"] = (row["p99_ms"], "ms")
            figures[f"{name}_p99_ratio"] = (row["ratio"], "x idle around")
            figures[f"{name}_checked"] = (row["checked"], f"of {GUESSES} guesses")
            figures[f"{name}_throttled"] = (row["throttled"], f"of {GUESSES} guesses")
            figures[f"{name}_cpu_s"] = (row["cpu_s"], "s")
    for metric, (value, unit) in figures.items():
        print(json.dumps({"bench": "console", "metric": metric, "value": round(value, 2), "unit": unit}))


if __name__ == "__main__":
    sys.exit(main())
