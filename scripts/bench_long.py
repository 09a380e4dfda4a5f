"""Long-conversation benchmark: does a message cost the same at turn 400 as at turn 1?

Children come back to the same conversation for weeks, so one conversation can grow to hundreds
of turns. This starts the bot as the tests do (action server + Rasa server, rest channel) on
Redis (REDIS_URL 127.0.0.1:6379, a prefix of its own, removed at the end), has one child send
TURNS ordinary messages in English, Spanish and French (no crisis words, nothing that asks for a
person or to delete the conversation), and prints the time per message over the first and the
last WINDOW turns, their ratio, and the size of the conversation stored in Redis at the end
(bot.storage.stores.RedisConversations: ``<prefix>conversation:<sender>``), then one JSON
object per line.

    make bench-long
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis

from scripts.figures import print_figures
from scripts.local_bot import MODEL, running_bot

REDIS_URL = "redis://127.0.0.1:6379/0"
TURNS = 400
WINDOW = 50
MESSAGES = [
    "hi",
    "hello",
    "what is a helpline",
    "how do i report a post on instagram",
    "someone keeps posting mean comments on my photos",
    "what do you keep about me",
    "tips to stay safe online",
    "ok",
    "i am bored",
    "what can you do",
    "thank you",
    "hola",
    "qué es una línea de ayuda",
    "cómo denuncio una foto",
    "consejos para estar seguro en internet",
    "gracias",
    "bonjour",
    "comment signaler une vidéo",
    "merci",
    "1",
    "2",
    "what time is it open",
    "is it free to call",
]


def stored_bytes(client: redis.Redis, prefix: str) -> int:
    """The size of the conversation's stored state (the bench's only conversation)."""
    keys = list(client.scan_iter(match=f"{prefix}conversation:*"))
    assert len(keys) == 1, keys
    return int(client.strlen(keys[0]))


def summary(latencies: list[float]) -> tuple[float, float]:
    return statistics.fmean(latencies), statistics.median(latencies)


def main() -> int:
    if not MODEL.exists():
        print(f"No model at {MODEL}: run `make model` first.", file=sys.stderr)
        return 1
    prefix = f"bench-long-{secrets.token_hex(6)}:"
    client = redis.Redis.from_url(REDIS_URL)
    env = {"REDIS_URL": REDIS_URL, "HELPLINE_REDIS_PREFIX": prefix, "HELPLINE_SENDER_KEY": secrets.token_hex(32)}
    try:
        with tempfile.TemporaryDirectory() as folder, running_bot(Path(folder), env=env) as bot:
            sender = f"bench-long-{secrets.token_hex(4)}"
            latencies = []
            for turn in range(TURNS):
                text = MESSAGES[turn % len(MESSAGES)]
                started = time.perf_counter()
                replies = bot.say(sender, text, {"country": "KE"})
                latencies.append((time.perf_counter() - started) * 1000)
                assert replies, (turn, text)
            size = stored_bytes(client, prefix)
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
    first_mean, first_p50 = summary(latencies[:WINDOW])
    last_mean, last_p50 = summary(latencies[-WINDOW:])
    figures = {
        "first_mean_ms": first_mean,
        "first_p50_ms": first_p50,
        "last_mean_ms": last_mean,
        "last_p50_ms": last_p50,
        "last_to_first_ratio": last_mean / first_mean,
        "stored_bytes": size,
    }
    print(f"one conversation of {TURNS} messages through the rest channel, on Redis:")
    print(f"  turns 0-{WINDOW - 1}: mean {first_mean:.1f} ms, p50 {first_p50:.1f} ms a message")
    print(f"  turns {TURNS - WINDOW}-{TURNS - 1}: mean {last_mean:.1f} ms, p50 {last_p50:.1f} ms a message")
    print(f"  last / first (means): {figures['last_to_first_ratio']:.2f}x")
    print(f"  conversation stored in Redis at turn {TURNS}: {size:,} bytes")
    units = {"last_to_first_ratio": "x", "stored_bytes": "bytes"}
    print_figures("long", figures, units)
    return 0


if __name__ == "__main__":
    sys.exit(main())
