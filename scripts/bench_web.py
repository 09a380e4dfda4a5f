"""Web chat benchmark: what many open chat pages cost the bot.

Each open page holds one long poll on the bot (and, behind it, one blocking read on Redis). This
starts the bot on Redis, measures a web child's message-to-reply time with no page open, then
opens PAGES pages that wait on their inboxes and measures again, together with the time from a
message written to a waiting page's inbox to that page receiving it, the Rasa server's memory and
Redis's client count.

    make bench-web
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from bot.privacy.sender_ids import SenderIds
from bot.storage.stores import RedisInbox
from bot.wiring.services import Services
from bot.wiring.settings import Settings
from scripts.bench_handoff import forget, percentiles
from scripts.bench_server import resident_mib
from scripts.local_bot import MODEL, running_bot

PAGES = 500
CHILDREN = 20
CREDENTIALS = "channels.rest.RestChannel:\nchannels.web.WebChatChannel:\n"


async def replies(client: httpx.AsyncClient, base: str) -> list[float]:
    """Message-to-reply times of CHILDREN web children writing at once, one message each, twice."""

    async def child(index: int) -> list[float]:
        headers: dict[str, str] = {}  # as the page: no token until the first answer gives one
        times = []
        for text in ("hi", "i need help with bullying"):
            started = time.perf_counter()
            answer = await client.post(
                f"{base}/webhook", headers=headers, json={"message": text, "metadata": {"country": "KE"}}
            )
            assert answer.status_code == 200 and answer.json()["messages"], answer.text
            times.append((time.perf_counter() - started) * 1000)
            headers = {"Authorization": f"Bearer {answer.json()['token']}"}
        return times

    return [t for times in await asyncio.gather(*(child(i) for i in range(CHILDREN))) for t in times]


async def measure(base: str, env: dict[str, str], rasa_pid: int) -> dict[str, float]:
    redis = aioredis.from_url(env["REDIS_URL"], decode_responses=True)
    inbox = RedisInbox(redis, env["HELPLINE_REDIS_PREFIX"])
    ids = SenderIds(env["HELPLINE_SENDER_KEY"].encode())
    chat_tokens = Services(Settings.from_environ(env)).chat_tokens  # the bot's key: its tokens
    figures: dict[str, float] = {"clients_before": (await redis.info("clients"))["connected_clients"]}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        alone = await replies(client, base)
        arrived: dict[str, float] = {}

        async def page(token: str) -> None:  # as webchat.js: one long poll after another
            cursor = "0-0"
            while True:
                answer = await client.get(
                    f"{base}/inbox", params={"after": cursor}, headers={"Authorization": f"Bearer {token}"}
                )
                found = answer.json()
                if found["messages"]:
                    arrived.setdefault(token, time.perf_counter())
                cursor = found["cursor"]

        tokens = [chat_tokens.issue() for _ in range(PAGES)]  # as the server issued them to open pages
        pages = [asyncio.ensure_future(page(token)) for token in tokens]
        await asyncio.sleep(3)  # every page is now waiting
        figures["clients_with_pages"] = (await redis.info("clients"))["connected_clients"]
        figures["rasa_rss_mib"] = resident_mib(rasa_pid)
        crowded = await replies(client, base)
        delivery = []
        for token in tokens[:CHILDREN]:
            written = time.perf_counter()
            await inbox.put(ids.of("web", token), "A counsellor is here.", [], 60)
            while token not in arrived and time.perf_counter() - written < 10:
                await asyncio.sleep(0.001)
            assert token in arrived, "a waiting page never got its message"
            delivery.append((arrived[token] - written) * 1000)
        for task in pages:
            task.cancel()
        await asyncio.gather(*pages, return_exceptions=True)
    await redis.close()
    figures["alone_p50_ms"], figures["alone_p99_ms"] = percentiles(alone)
    figures["crowded_p50_ms"], figures["crowded_p99_ms"] = percentiles(crowded)
    figures["delivery_p50_ms"], figures["delivery_p99_ms"] = percentiles(delivery)
    return figures


def main() -> int:
    if not MODEL.exists():
        print(f"No model at {MODEL}: run `make model` first.", file=sys.stderr)
        return 1
    prefix = f"bench-web-{secrets.token_hex(4)}:"
    env = {
        "HELPLINE_SENDER_KEY": secrets.token_hex(32),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "HELPLINE_REDIS_PREFIX": prefix,
    }
    with tempfile.TemporaryDirectory() as folder:
        try:
            with running_bot(Path(folder), credentials=CREDENTIALS, env=env) as bot:
                idle_rss = resident_mib(bot.server.pid)
                figures = asyncio.run(measure(f"{bot.base_url}/webhooks/web", env, bot.server.pid))
        finally:
            asyncio.run(forget(prefix))
    figures["rasa_rss_idle_mib"] = idle_rss
    print(
        f"web child's message -> reply, {CHILDREN} children at once: p50 {figures['alone_p50_ms']:.0f} ms, "
        f"p99 {figures['alone_p99_ms']:.0f} ms with no page open; p50 {figures['crowded_p50_ms']:.0f} ms, "
        f"p99 {figures['crowded_p99_ms']:.0f} ms with {PAGES} pages waiting "
        f"(p99 ratio {figures['crowded_p99_ms'] / figures['alone_p99_ms']:.2f})"
    )
    print(
        f"message written to an inbox -> the waiting page has it: p50 {figures['delivery_p50_ms']:.1f} ms, "
        f"p99 {figures['delivery_p99_ms']:.1f} ms"
    )
    print(
        f"Rasa server memory: {figures['rasa_rss_idle_mib']:.0f} MiB before, {figures['rasa_rss_mib']:.0f} MiB with "
        f"{PAGES} pages waiting; Redis clients: {figures['clients_before']:.0f} before, "
        f"{figures['clients_with_pages']:.0f} "
        f"with the pages (one blocking read each)"
    )
    for metric, value in figures.items():
        print(json.dumps({"bench": "web", "metric": metric, "value": round(value, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
