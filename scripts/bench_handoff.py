"""Handoff benchmark: from a child's crisis message to the ticket in the counsellors' queue, and
from a counsellor's reply to the channel sending it (through the outbox, bot.delivery: queued in
Redis by the console, sent by the Rasa server's sender), while 20 other children talk to the bot.

The console is watched as its page watches it: the helpline's event stream (/api/events, Server-
Sent Events carried by Redis), and on an "opened" event the queue is fetched; the time is taken
when the fetched queue holds the child's ticket. Everything runs on this machine, on Redis.

    make bench-handoff
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import secrets
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.client import HTTPConnection
from pathlib import Path

import redis.asyncio as aioredis
from twilio.request_validator import RequestValidator

from bot.handoff.counsellors import Counsellors
from scripts.bench_channels import load, sms_sender
from scripts.fake_apis import PUBLIC_URL, TWILIO_TOKEN, FakeTelegram, FakeTwilio, channel_credentials
from scripts.local_bot import MODEL, free_port, http, running_bot, start_process

CRISES = 20
OUTAGE_S, OUTAGE_REPLIES = 3.0, 10  # Twilio down this long while the counsellor writes this many
PASSWORD = "benchmark password 123"


def percentiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100)
    return statistics.median(values), cuts[98]


def main() -> int:
    if not MODEL.exists():
        print(f"No model at {MODEL}: run `make model` first.", file=sys.stderr)
        return 1
    run = secrets.token_hex(6)
    prefix = f"bench-{run}:"
    with tempfile.TemporaryDirectory() as folder:
        desks = Path(folder) / "handoff.yml"
        desks.write_text("desks:\n  NG:\n    name: Bench desk\n    max_wait_minutes: 60\n")
        env = {
            "HELPLINE_SENDER_KEY": secrets.token_hex(32),
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "HELPLINE_REDIS_PREFIX": prefix,
            "HELPLINE_HANDOFF_FILE": str(desks),
        }
        telegram, twilio = FakeTelegram(), FakeTwilio()
        with running_bot(Path(folder), credentials=channel_credentials(telegram, twilio), env=env) as bot:
            port = free_port()
            console = start_process(
                [sys.executable, "-m", "console"],
                Path(folder) / "console.log",
                {**os.environ, **env, "CONSOLE_PORT": str(port)},
            )
            try:
                return measure(bot, f"http://127.0.0.1:{port}", twilio, run, prefix)
            finally:
                console.terminate()
                asyncio.run(forget(prefix))


def measure(bot, console: str, twilio: FakeTwilio, run: str, prefix: str) -> int:
    async def account() -> None:
        client = aioredis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
        await Counsellors(client, prefix + "console:").add("bench-counsellor", "NG", PASSWORD)
        await client.close()

    asyncio.run(account())
    cookie, csrf = login(console)
    headers = {"Cookie": cookie, "X-CSRF-Token": csrf, "Content-Type": "application/json"}
    opened = watch_events(console, cookie)

    background = threading.Thread(
        target=lambda: load(sms_sender(bot.webhook("sms"), twilio, run + "bg"), 20, 15), daemon=True
    )
    background.start()
    to_queue, to_child = [], []
    for i in range(CRISES):
        ticket, phone, waited_ms = crisis_ticket(bot, console, headers, opened, run, i)
        to_queue.append(waited_ms)
        http("POST", f"{console}/api/tickets/{ticket}/claim", b"{}", headers)
        start_index = len(twilio.calls)
        sent_at = time.monotonic()
        reply = {"text": f"I'm here {i}", "key": f"bench-{run}-{i:04}"}  # as the console's page sends it
        http("POST", f"{console}/api/tickets/{ticket}/reply", json.dumps(reply).encode(), headers)
        arrived = twilio.first_call_after(
            lambda p, q, phone=phone, i=i: q.get("To") == phone and q.get("Body") == f"I'm here {i}", start_index
        )
        assert arrived, "the reply never reached the channel"
        to_child.append((arrived - sent_at) * 1000)
        http(
            "POST",
            f"{console}/api/tickets/{ticket}/close",
            json.dumps({"outcome": "counselling_given"}).encode(),
            headers,
        )
    background.join(timeout=120)
    delivered, in_order, after_s = outage(bot, console, headers, opened, twilio, run)
    q50, q99 = percentiles(to_queue)
    c50, c99 = percentiles(to_child)
    print(
        f"crisis message -> ticket in the counsellors' queue, {CRISES} crises with 20 other children talking: "
        f"p50 {q50:.0f} ms, p99 {q99:.0f} ms (target p99 under 1000 ms)"
    )
    print(f"counsellor's reply -> sent on the child's channel, through the outbox: p50 {c50:.0f} ms, p99 {c99:.0f} ms")
    order = "in order" if in_order else "OUT OF ORDER"
    print(
        f"Twilio down {OUTAGE_S:.0f} s while the counsellor writes {OUTAGE_REPLIES} replies: "
        f"{delivered}/{OUTAGE_REPLIES} sent once each, {order}, the last {after_s:.1f} s after Twilio came back"
    )
    for metric, value, unit in (
        ("to_queue_p50_ms", q50, "ms"),
        ("to_queue_p99_ms", q99, "ms"),
        ("to_child_p50_ms", c50, "ms"),
        ("to_child_p99_ms", c99, "ms"),
        ("outage_delivered", delivered, "messages"),
        ("outage_last_after_recovery_s", after_s, "s"),
    ):
        print(json.dumps({"bench": "handoff", "metric": metric, "value": round(value, 1), "unit": unit}))
    return 0 if in_order and delivered == OUTAGE_REPLIES else 1


def crisis_ticket(
    bot, console: str, headers: dict, opened: "queue.Queue[tuple[str, float]]", run: str, i: int
) -> tuple[str, str, float]:
    """A child's crisis SMS, and its ticket found in the queue as the page finds it: (ticket, phone, ms it took)."""
    phone = f"+23480{i:08d}"
    text = f"i want to die {run} {i}"
    posted = time.monotonic()
    post_sms(bot, phone, text, run, i)
    ticket = None
    while ticket is None and time.monotonic() - posted < 30:
        try:
            opened.get(timeout=30)  # as the page: an event, then the queue is fetched
        except queue.Empty:
            break
        status, raw = http("GET", f"{console}/api/queue", None, headers)
        ticket = next((t["id"] for t in json.loads(raw)["waiting"] if text in t["last_messages"]), None)
    assert ticket, "the ticket never reached the queue"
    return ticket, phone, (time.monotonic() - posted) * 1000


def outage(
    bot, console: str, headers: dict, opened: "queue.Queue[tuple[str, float]]", twilio: FakeTwilio, run: str
) -> tuple[int, bool, float]:
    """The counsellor writes while Twilio answers 503; then it comes back. (How many of the replies
    were sent, once each; in the order written; seconds from Twilio's return to the last one.)"""
    ticket, phone, _ = crisis_ticket(bot, console, headers, opened, run, CRISES)
    http("POST", f"{console}/api/tickets/{ticket}/claim", b"{}", headers)
    wanted = [f"written in the outage {n}" for n in range(OUTAGE_REPLIES)]
    twilio.down()
    for n, text in enumerate(wanted):
        reply = {"text": text, "key": f"bench-{run}-outage-{n:04}"}
        http("POST", f"{console}/api/tickets/{ticket}/reply", json.dumps(reply).encode(), headers)
    time.sleep(OUTAGE_S)
    twilio.recover()
    back = time.monotonic()

    def taken() -> list[tuple[str, float]]:
        return [(q["Body"], at) for _, q, status, at in twilio.log() if q.get("To") == phone and status == 201]

    deadline = time.monotonic() + 180
    while len([b for b, _ in taken() if b in wanted]) < OUTAGE_REPLIES and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # a reply sent twice would be here by now
    said = [(body, at) for body, at in taken() if body in wanted]
    bodies = [body for body, _ in said]
    last = max((at for _, at in said), default=back)
    return sum(bodies.count(text) == 1 for text in wanted), bodies == wanted, last - back


def watch_events(console: str, cookie: str) -> "queue.Queue[tuple[str, float]]":
    """Follow the console's event stream in a thread; each "opened" ticket id is put on the queue,
    with the moment (time.monotonic) it arrived."""
    found: queue.Queue[tuple[str, float]] = queue.Queue()
    host, port = urllib.parse.urlsplit(console).netloc.split(":")
    connection = HTTPConnection(host, int(port), timeout=120)
    connection.request("GET", "/api/events", headers={"Cookie": cookie, "Accept": "text/event-stream"})
    stream = connection.getresponse()

    def read() -> None:
        kind = ""
        for raw in stream:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "opened":
                found.put((json.loads(line[6:])["ticket"], time.monotonic()))

    threading.Thread(target=read, daemon=True).start()
    return found


def login(console: str) -> tuple[str, str]:
    """Log in as the console page does: (session cookie, CSRF token)."""
    body = json.dumps({"username": "bench-counsellor", "password": PASSWORD}).encode()
    for _ in range(100):
        try:
            request = urllib.request.Request(
                f"{console}/api/login", data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request) as answer:
                return answer.headers["Set-Cookie"].split(";")[0], json.loads(answer.read())["csrf"]
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the console did not start")


def post_sms(bot, phone: str, text: str, run: str, i: int) -> None:
    form = {"MessageSid": f"SM{run}crisis{i:08d}", "From": phone, "To": "+15005550006", "Body": text, "NumMedia": "0"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC_URL}/webhooks/sms/webhook", form)
    status, _ = http(
        "POST",
        bot.webhook("sms"),
        urllib.parse.urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )
    assert status == 200


async def forget(prefix: str) -> None:
    client = aioredis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.close()


if __name__ == "__main__":
    sys.exit(main())
