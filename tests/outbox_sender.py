"""A sender of the outbox (bot.delivery.sender) as a process of its own, for tests/test_outbox.py to
kill mid-outage as a server dies, or stop with SIGTERM as a server shuts down.

    python -m tests.outbox_sender <key prefix> <fake Telegram API url> <consumer> <claim idle s>

The outbox is under ``<key prefix>handoff:``, the addresses under ``<key prefix>``, as bot.wiring
lays them out. Prints "ready" once it reads the outbox.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import redis.asyncio as aioredis
from telegram import Bot

from bot.delivery.outbox import RedisOutbox
from bot.delivery.policy import Policy
from bot.delivery.sender import Sender
from bot.delivery.transports import TelegramTransport
from bot.storage.stores import RedisAddressBook
from scripts.fake_apis import TELEGRAM_TOKEN

REDIS_URL = "redis://127.0.0.1:6379/0"


async def main(prefix: str, api_url: str, consumer: str, claim_idle_s: float) -> None:
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    bot = Bot(TELEGRAM_TOKEN, base_url=f"{api_url}/bot")
    transport = TelegramTransport(bot, RedisAddressBook(client, prefix))
    sender = Sender(RedisOutbox(client, prefix + "handoff:"), Policy(), consumer, claim_idle_s, {"telegram": transport})
    stopped = asyncio.Event()

    async def stop() -> None:
        await sender.stop(5)
        stopped.set()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(stop()))
    running = asyncio.ensure_future(sender.run())
    print("ready", flush=True)
    await stopped.wait()
    await running
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
