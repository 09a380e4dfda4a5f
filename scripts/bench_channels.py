"""Channel benchmark: webhook-to-reply latency and throughput of SMS and Telegram through the whole
bot, with the same load on a stock Rasa bot (`rasa init`, its rest channel) in the same run.

Each sender sends a message, waits for the reply, then sends the next. For our channels the
reply is the moment the fake Telegram or Twilio API receives it (our channels answer off the
webhook request); for stock Rasa it is the webhook's response. Everything runs on this machine.

    make bench-channels
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, NamedTuple

from twilio.request_validator import RequestValidator

from bot import PROJECT_ROOT
from scripts.fake_apis import PUBLIC_URL, TELEGRAM_SECRET, TWILIO_TOKEN, FakeTelegram, FakeTwilio, channel_credentials
from scripts.local_bot import MODEL, VENV_BIN, free_port, http, running_bot, start_process, wait_until_up

STOCK_DIR = PROJECT_ROOT / ".cache" / "stock-rasa"  # `rasa init` once; reused by later runs
TEXT = "thank you bye"  # one reply message from both bots
LOADS = [(1, 30), (20, 10)]  # (concurrent senders, messages each)
WARM_UP = 3
MESSAGE_IDS = itertools.count(1)  # every message of a run has its own id (retries are deduplicated)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pids: dict[str, int], run: Callable[[], dict[str, float]]) -> dict[str, float]:
    """``run``'s figures plus the CPU milliseconds per message each process spent."""
    before = {name: cpu_s(pid) for name, pid in pids.items()}
    figures = run()
    for name, pid in pids.items():
        figures[f"cpu_ms_{name}"] = (cpu_s(pid) - before[name]) * 1000 / figures["n"]
    return figures


def stock_model() -> Path:
    models = sorted((STOCK_DIR / "models").glob("*.tar.gz")) if STOCK_DIR.exists() else []
    if not models:
        STOCK_DIR.mkdir(parents=True, exist_ok=True)
        print("training the stock `rasa init` bot once (kept in .cache/stock-rasa)...", file=sys.stderr)
        subprocess.run(
            [str(VENV_BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(STOCK_DIR)],
            check=True,
            capture_output=True,
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
        )
        models = sorted((STOCK_DIR / "models").glob("*.tar.gz"))
    return models[-1]


class Reply(NamedTuple):
    """How long a message waited for its first reply, and whether that reply was the fail-safe one
    in the webhook's own answer (the message could not be journalled: Redis failed or was too slow)."""

    ms: float
    fail_safe: bool = False


def load(send: Callable[[int, int], Reply], senders: int, each: int) -> dict[str, float]:
    """Run ``senders`` children in parallel, ``each`` messages one after another; latency figures."""

    def child(sender: int) -> list[Reply]:
        for i in range(WARM_UP if senders == 1 else 0):
            send(sender, -1 - i)
        return [send(sender, i) for i in range(each)]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=senders) as pool:
        replies = [reply for result in pool.map(child, range(senders)) for reply in result]
    wall = time.monotonic() - started
    latencies = [reply.ms for reply in replies]
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": cuts[98],
        "per_s": len(latencies) / wall,
        "n": len(latencies),
        "fail_safe": sum(reply.fail_safe for reply in replies),
    }


def telegram_sender(url: str, api: FakeTelegram, run: str) -> Callable[[int, int], Reply]:
    def send(sender: int, i: int) -> Reply:
        chat = 7_000_000_000 + sender
        update = {
            "update_id": int(run, 16) % 10**6 * 10**4 + next(MESSAGE_IDS),
            "message": {
                "message_id": i + 100,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "from": {"id": chat, "is_bot": False, "first_name": "K", "language_code": "en"},
                "text": TEXT,
            },
        }
        start_index = len(api.calls)
        posted = time.monotonic()
        status, body = http(
            "POST",
            url,
            json.dumps(update).encode(),
            {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        if status == 200 and b'"sendMessage"' in body:  # the fail-safe reply, as the webhook's answer
            return Reply((time.monotonic() - posted) * 1000, fail_safe=True)
        arrived = api.first_call_after(
            lambda p, q: p.endswith("/sendMessage") and str(q.get("chat_id")) == str(chat), start_index
        )
        assert status == 200 and arrived, (status, arrived)
        return Reply((arrived - posted) * 1000)

    return send


def sms_sender(url: str, api: FakeTwilio, run: str) -> Callable[[int, int], Reply]:
    validator = RequestValidator(TWILIO_TOKEN)

    def send(sender: int, i: int) -> Reply:
        phone = f"+4474{sender:08d}"
        form = {
            "MessageSid": f"SM{run}{next(MESSAGE_IDS):020d}",
            "From": phone,
            "To": "+15005550006",
            "Body": TEXT,
            "NumMedia": "0",
        }
        signature = validator.compute_signature(f"{PUBLIC_URL}/webhooks/sms/webhook", form)
        start_index = len(api.calls)
        posted = time.monotonic()
        status, body = http(
            "POST",
            url,
            urllib.parse.urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )
        if status == 200 and b"<Message>" in body:  # the fail-safe reply, as TwiML in the webhook's answer
            return Reply((time.monotonic() - posted) * 1000, fail_safe=True)
        arrived = api.first_call_after(lambda p, q: q.get("To") == phone, start_index)
        assert status == 200 and arrived, (status, arrived)
        return Reply((arrived - posted) * 1000)

    return send


def rest_sender(url: str, run: str) -> Callable[[int, int], Reply]:
    def send(sender: int, i: int) -> Reply:
        posted = time.monotonic()
        status, body = http(
            "POST",
            url,
            json.dumps({"sender": f"{run}-{sender}", "message": TEXT}).encode(),
            {"Content-Type": "application/json"},
        )
        assert status == 200 and json.loads(body), (status, body)
        return Reply((time.monotonic() - posted) * 1000)

    return send


def main() -> int:
    if not MODEL.exists():
        print(f"No model at {MODEL}: run `make model` first.", file=sys.stderr)
        return 1
    run = secrets.token_hex(6)  # fresh message ids: dedupe keys of earlier runs live a day
    env = {"HELPLINE_SENDER_KEY": secrets.token_hex(32), "REDIS_URL": "redis://127.0.0.1:6379/0"}
    telegram, twilio = FakeTelegram(), FakeTwilio()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        with running_bot(Path(folder), credentials=channel_credentials(telegram, twilio), env=env) as bot:
            pids = {"rasa": bot.server.pid, "actions": bot.actions.pid}
            for senders, each in LOADS:
                results[f"telegram@{senders}"] = measured(
                    pids,
                    lambda senders=senders, each=each: load(
                        telegram_sender(bot.webhook("telegram"), telegram, run), senders, each
                    ),
                )
                results[f"sms@{senders}"] = measured(
                    pids,
                    lambda senders=senders, each=each: load(sms_sender(bot.webhook("sms"), twilio, run), senders, each),
                )
                results[f"rest@{senders}"] = measured(
                    pids, lambda senders=senders, each=each: load(rest_sender(bot.webhook("rest"), run), senders, each)
                )
        port = free_port()
        log = Path(folder) / "stock.log"
        stock = start_process(
            [
                str(VENV_BIN / "rasa"),
                "run",
                "--model",
                str(stock_model()),
                "--port",
                str(port),
                "--interface",
                "127.0.0.1",
            ],
            log,
            {**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
            cwd=STOCK_DIR,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/webhooks/rest/", stock, log)
            for senders, each in LOADS:
                url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
                results[f"stock rasa rest@{senders}"] = measured(
                    {"rasa": stock.pid},
                    lambda url=url, senders=senders, each=each: load(rest_sender(url, run), senders, each),
                )
        finally:
            stock.terminate()
            stock.wait(timeout=20)
    telegram.close()
    twilio.close()

    print("| load | messages | p50 ms | p99 ms | messages/s | CPU ms/message: Rasa server | action server |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        actions = f"{r['cpu_ms_actions']:.1f}" if "cpu_ms_actions" in r else "-"
        print(
            f"| {name} | {r['n']:.0f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['per_s']:.1f} "
            f"| {r['cpu_ms_rasa']:.1f} | {actions} |"
        )
    stock_p99 = results["stock rasa rest@20"]["p99_ms"]
    for channel in ("telegram", "sms"):
        ratio = results[f"{channel}@20"]["p99_ms"] / stock_p99
        print(f"{channel} p99 at 20 senders / stock Rasa's: {ratio:.2f} (target: at most 1.00)")
    for name, r in results.items():
        for metric, value in r.items():
            if metric != "n":
                print(json.dumps({"bench": "channels", "load": name, "metric": metric, "value": round(value, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
