"""Server benchmark: start-up time, resident memory and reply latency of the running bot.

Starts the bot exactly as the tests do (action server + Rasa server, rest channel, in-memory
stores), then sends messages in the ten languages through the webhook and prints the figures,
then one JSON object per line.

    make bench-server
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from scripts.figures import print_figures
from scripts.local_bot import MODEL, running_bot

MESSAGES = [
    "hlp",
    "i want to die",
    "ayuda porfa",
    "je suis harcelée sur insta",
    "مساعدة",
    "nataka msaada",
    "мне нужна помощь",
    "我需要帮助",
    "preciso de ajuda",
    "mujhe madad chahiye",
    "hilfe bitte",
    "thanks bye",
]
ROUNDS = 10


def resident_mib(pid: int) -> float:
    """VmRSS of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    if not MODEL.exists():
        print(f"No model at {MODEL}: run `make model` first.", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder, running_bot(Path(folder)) as bot:
        latencies = []
        for round_ in range(ROUNDS):
            for index, text in enumerate(MESSAGES):
                started = time.perf_counter()
                replies = bot.say(f"bench-{round_}-{index}", text, {"country": "KE"})
                latencies.append((time.perf_counter() - started) * 1000)
                assert replies, text
        figures = {
            "startup_s": bot.started_in_s,
            "rasa_rss_mib": resident_mib(bot.server.pid),
            "actions_rss_mib": resident_mib(bot.actions.pid),
            "reply_p50_ms": statistics.median(latencies),
            "reply_p95_ms": statistics.quantiles(latencies, n=20)[18],
            "reply_max_ms": max(latencies),
        }
    print(f"start-up (launch until both servers answer): {figures['startup_s']:.1f} s")
    print(
        f"resident memory: Rasa server {figures['rasa_rss_mib']:.0f} MiB, "
        f"action server {figures['actions_rss_mib']:.0f} MiB"
    )
    print(
        f"reply through the webhook over {len(latencies)} messages (first of each conversation): "
        f"p50 {figures['reply_p50_ms']:.0f} ms, p95 {figures['reply_p95_ms']:.0f} ms, "
        f"max {figures['reply_max_ms']:.0f} ms"
    )
    units = {"startup_s": "s", "rasa_rss_mib": "MiB", "actions_rss_mib": "MiB"}
    print_figures("server", figures, units)
    return 0


if __name__ == "__main__":
    sys.exit(main())
