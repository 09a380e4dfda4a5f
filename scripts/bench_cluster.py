"""Cluster benchmark: our bot behind HAProxy with 1, 2 and 3 Rasa servers (2 action servers, 2
consoles, one private redis-server: scripts/cluster.py), side by side with stock Rasa 3.6.21 (the
`rasa init` bot of scripts/bench_channels.py, on Rasa's own Redis tracker and lock stores, which a
stock cluster needs) behind HAProxy with 1, 2 and 3 servers, in the same run.

- 20 children x 15 messages, each child sending its next message once the reply to the last came
  (scripts/bench_channels.py's load): messages per second, and p50/p99 latency from the webhook's
  POST to the reply arriving at the fake Telegram or Twilio API (stock Rasa: its rest channel's
  response, which carries the reply).
- 100 children in crisis on SMS (a new one every 0.2 s) while 60 other children talk, on 3 servers:
  p50/p99 from the crisis SMS's POST to its ticket in the console's queue, watched as the console's
  page watches it (the event stream, then the queue), through HAProxy.

    make bench-cluster                                     # everything (about 12 minutes)
    .venv/bin/python -m scripts.bench_cluster --crisis-only  # only the crises (a few minutes)
    .venv/bin/python -m scripts.bench_cluster --one-server   # ours, SMS, one server, 3 rounds (2 minutes)

``--one-server`` is for measuring a change: the same load three times on one server of our
cluster, and the CPU each process spent per message (the Rasa server, the action servers, and the
machine as a whole, from /proc), which is steadier than one round's messages per second.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, NamedTuple, Optional

from scripts.bench_channels import STOCK_DIR, Reply, load, rest_sender, sms_sender, stock_model, telegram_sender
from scripts.bench_handoff import PASSWORD, login, percentiles, post_sms, watch_events
from scripts.cluster import Cluster
from scripts.fake_apis import FakeTelegram, FakeTwilio, channel_credentials
from scripts.local_bot import MODEL, http

CHILDREN, EACH = 20, 15
SERVERS = (1, 2, 3)
CRISES, TALKING, CRISIS_EVERY_S = 100, 60, 0.2
STAGES = {"acknowledged": "the webhook's answer", "event": 'the console\'s "opened" event'}


def stock_endpoints(cluster_redis: str) -> str:
    """Stock Rasa's own Redis tracker and lock stores: several servers share conversations (and take
    turns on each) only through them."""
    host, port = cluster_redis.removeprefix("redis://").split("/")[0].split(":")
    store = f'  url: "{host}"\n  port: {port}\n  db: 1\n'
    return f"tracker_store:\n  type: redis\n{store}  key_prefix: stockbench\nlock_store:\n  type: redis\n{store}"


def by_servers(cluster: Cluster, name: str, make: Callable[[], Callable[[int, int], Reply]]) -> dict[str, dict]:
    results = {}
    for count in SERVERS:
        cluster.use(count)
        time.sleep(0.5)
        label = f"{name}, {count} server{'s' if count > 1 else ''}"
        results[label] = r = load(make(), CHILDREN, EACH)
        print(
            f"  {label}: {r['per_s']:.1f}/s, p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, "
            f"{r['fail_safe']} fail-safe replies",
            file=sys.stderr,
        )
    cluster.use(len(cluster.rasa))
    return results


def crisis_to_console(cluster: Cluster, twilio: FakeTwilio, run: str) -> dict[str, list[float]]:
    """Milliseconds from each crisis SMS's POST to: the webhook's answer ("acknowledged"), the
    console's "opened" event for its ticket ("event"), and its ticket in the console's queue
    ("console"; see the docstring). The children in crisis and the counsellor's page run in a
    process of their own, as they would on their own devices: in this one, the 60 talking
    children's threads and the fake Twilio API would hold up their clocks."""
    cluster.add_counsellor("bench-counsellor", "NG", PASSWORD)
    stop = threading.Event()

    def talk(sender: int) -> None:
        send, i = sms_sender(cluster.webhook("sms"), twilio, run + "bg"), 0
        while not stop.is_set():
            send(1000 + sender, i)
            i += 1

    with ThreadPoolExecutor(TALKING) as talkers:
        for sender in range(TALKING):
            talkers.submit(talk, sender)
        time.sleep(2)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            stages = pool.apply(crises_seen_by_a_counsellor, (cluster.console_url, cluster.webhook("sms"), run))
        stop.set()
    return stages


class _Webhooks(NamedTuple):
    """What post_sms needs of a bot: its SMS webhook."""

    sms: str

    def webhook(self, channel: str) -> str:
        return self.sms


def crises_seen_by_a_counsellor(console_url: str, sms_webhook: str, run: str) -> dict[str, list[float]]:
    """The crises, one every CRISIS_EVERY_S, and the counsellor's page watching the queue (in a
    process of its own: see crisis_to_console)."""
    cookie, _ = login(console_url)
    opened = watch_events(console_url, cookie)
    texts = {i: f"i want to die {run} {i}" for i in range(CRISES)}
    posted: dict[str, float] = {}
    acknowledged: dict[str, float] = {}
    event_at: dict[str, float] = {}  # ticket id -> when its "opened" event arrived
    seen: dict[str, tuple[float, float]] = {}  # text -> (its event, in the queue)
    stop = threading.Event()

    def watch() -> None:
        """As the page: on each "opened" event the queue is fetched; a ticket is seen once it is there."""
        while not stop.is_set():
            try:
                ticket, at = opened.get(timeout=0.5)
            except queue.Empty:
                continue
            event_at[ticket] = at
            status, raw = http("GET", f"{console_url}/api/queue", None, {"Cookie": cookie})
            now = time.monotonic()
            for row in json.loads(raw)["waiting"] if status == 200 else []:
                for text in texts.values():
                    if text in row["last_messages"] and text not in seen and row["id"] in event_at:
                        seen[text] = (event_at[row["id"]], now)

    def crisis(i: int) -> None:
        posted[texts[i]] = time.monotonic()
        post_sms(_Webhooks(sms_webhook), f"+23480{i:08d}", texts[i], run, i)
        acknowledged[texts[i]] = time.monotonic()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with ThreadPoolExecutor(20) as crises:
        for i in range(CRISES):
            crises.submit(crisis, i)
            time.sleep(CRISIS_EVERY_S)
        deadline = time.monotonic() + 60
        while len(seen) < CRISES and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
    return {
        "acknowledged": [(at - posted[text]) * 1000 for text, at in acknowledged.items()],
        "event": [(at - posted[text]) * 1000 for text, (at, _) in seen.items()],
        "console": [(at - posted[text]) * 1000 for text, (_, at) in seen.items()],
    }


def cpu_seconds(pid: Optional[int] = None) -> float:
    """CPU time used so far by process ``pid`` (its user and system time), or by the whole machine."""
    if pid is None:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        busy = sum(int(f) for f in fields) - int(fields[3]) - int(fields[4])  # less idle and iowait
        return busy / os.sysconf("SC_CLK_TCK")
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def one_server(cluster: Cluster, twilio: FakeTwilio, run: str, rounds: int = 3) -> None:
    """``--one-server``: see the module's docstring."""
    cluster.use(1)
    time.sleep(0.5)
    rasa = cluster.rasa[0].process
    actions = [s.process for s in cluster.actions if s.process is not None]
    assert rasa is not None
    for index in range(rounds):
        before = (cpu_seconds(rasa.pid), sum(cpu_seconds(p.pid) for p in actions), cpu_seconds())
        r = load(sms_sender(cluster.webhook("sms"), twilio, f"{run}-{index}"), CHILDREN, EACH)
        after = (cpu_seconds(rasa.pid), sum(cpu_seconds(p.pid) for p in actions), cpu_seconds())
        rasa_ms, actions_ms, machine_ms = (
            (a - b) * 1000 / (CHILDREN * EACH) for a, b in zip(after, before, strict=True)
        )
        print(
            f"round {index + 1}: {r['per_s']:.1f}/s, p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms; "
            f"CPU a message: Rasa server {rasa_ms:.1f} ms, action servers {actions_ms:.1f} ms, "
            f"whole machine {machine_ms:.1f} ms"
        )


def main(argv: list[str]) -> int:
    """``--crisis-only``: only the crises among talking children, on our cluster (a few minutes);
    ``--one-server``: see the module's docstring."""
    crisis_only = "--crisis-only" in argv
    if not MODEL.exists():
        print(f"No model at {MODEL}: run `make model` first.", file=sys.stderr)
        return 1
    run = secrets.token_hex(6)
    telegram, twilio = FakeTelegram(), FakeTwilio()
    results: dict[str, dict] = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            desks = Path(folder) / "handoff.yml"
            desks.write_text("desks:\n  NG:\n    name: Bench desk\n    max_wait_minutes: 60\n")
            env = {"HELPLINE_HANDOFF_FILE": str(desks)}
            credentials = channel_credentials(telegram, twilio)
            print("starting our cluster: HAProxy, 3 Rasa, 2 action servers, 2 consoles, Redis...", file=sys.stderr)
            with Cluster(Path(folder) / "ours", credentials=credentials, env=env) as ours:
                if "--one-server" in argv:
                    one_server(ours, twilio, run)
                    return 0
                if not crisis_only:
                    results |= by_servers(ours, "ours, SMS", lambda: sms_sender(ours.webhook("sms"), twilio, run))
                    results |= by_servers(
                        ours, "ours, Telegram", lambda: telegram_sender(ours.webhook("telegram"), telegram, run)
                    )
                print("100 crises among 60 children talking...", file=sys.stderr)
                stages = crisis_to_console(ours, twilio, run)
                to_console = stages["console"]
                for stage, figures in stages.items():
                    if len(figures) >= 2:
                        print(f"  POST -> {stage}: {len(figures)}, p50/p99 {percentiles(figures)}", file=sys.stderr)
                if not crisis_only:
                    redis_url = ours.redis_url
                    print("starting stock Rasa's cluster on the same Redis (its own keys)...", file=sys.stderr)
                    stock = Cluster(
                        Path(folder) / "stock",
                        stock_model(),
                        actions=0,
                        consoles=0,
                        credentials="rest:\n",
                        endpoints=stock_endpoints(redis_url),
                        redis_url=redis_url,
                        cwd=STOCK_DIR,
                    )
                    with stock:
                        results |= by_servers(
                            stock, "stock Rasa 3.6.21, rest", lambda: rest_sender(stock.webhook("rest"), run)
                        )
    finally:
        telegram.close()
        twilio.close()

    print(f"\n{CHILDREN} children x {EACH} messages through HAProxy (latency: webhook POST -> reply at the platform)")
    print("| bot, servers | messages/s | p50 ms | p99 ms | fail-safe replies |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['per_s']:.1f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['fail_safe']} |")
    if len(to_console) >= 2:
        c50, c99 = percentiles(to_console)
        print(
            f"\ncrisis SMS -> ticket in the console's queue (event stream, then the queue, through HAProxy), "
            f"{CRISES} crises among {TALKING} children talking, 3 servers: {len(to_console)}/{CRISES} seen, "
            f"p50 {c50:.0f} ms, p99 {c99:.0f} ms"
        )
        for stage, figures in stages.items():
            if stage != "console" and len(figures) >= 2:
                s50, s99 = percentiles(figures)
                print(f"  of which POST -> {STAGES[stage]}: p50 {s50:.0f} ms, p99 {s99:.0f} ms")
    else:
        print(f"\ncrisis SMS -> ticket in the console's queue: only {len(to_console)}/{CRISES} seen")
    for name, r in results.items():
        for metric in ("per_s", "p50_ms", "p99_ms", "fail_safe"):
            print(json.dumps({"bench": "cluster", "load": name, "metric": metric, "value": round(r[metric], 1)}))
    if len(to_console) >= 2:
        print(json.dumps({"bench": "cluster", "metric": "crisis_to_console_p99_ms", "value": round(c99, 1)}))
    return 0 if len(to_console) == CRISES else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
