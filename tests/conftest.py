"""Shared fixtures: the real bot (action server + Rasa server with our channels) on loopback ports."""

from __future__ import annotations

import asyncio
import importlib
import secrets
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest
import redis
import redis.asyncio as aioredis
import yaml

from bot import PROJECT_ROOT
from bot.conversation.dialogue import Dialogue
from bot.handoff.counsellors import Counsellors
from bot.wiring.services import services
from scripts.fake_apis import FakePartner, FakeTelegram, FakeTwilio, channel_credentials
from scripts.local_bot import MODEL, RunningBot, running_bot, running_console
from tests.console_client import PASSWORD


@pytest.fixture(scope="session")
def dialogue() -> Dialogue:
    """The dialogue as the bot loads it, once per run (its models learn at load: about 5 s).
    Shared: a test that needs other desks, periods or risk readings uses ``rebuilt``."""
    return Dialogue.load()


def action_server_module(**env: str) -> ModuleType:
    """actions/actions.py as the action server loads it without REDIS_URL and with ``env``: imported
    afresh, because its services are built at import from that moment's settings (another test
    module may have imported it with others). It does not lower this process's priority."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("REDIS_URL", raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        patch.setattr("bot.wiring.priority.lower_this_process", lambda: None)
        services.cache_clear()  # the action server's process reads its settings as it starts
        sys.modules.pop("actions.actions", None)
        try:
            return importlib.import_module("actions.actions")
        finally:
            services.cache_clear()


DIALOGUE_PARTS = ("registry", "detector", "texts", "crisis", "risk", "table", "countries", "desks", "retention")


def rebuilt(dialogue: Dialogue, **parts: Any) -> Dialogue:
    """A new dialogue from ``dialogue``'s loaded parts, some replaced (desks=, retention=, risk=...)."""
    return Dialogue(**{name: parts.get(name, getattr(dialogue, name)) for name in DIALOGUE_PARTS})


# Fixtures that start servers of ours (Rasa, the console, fake APIs) or a browser: the tests using
# them (directly or through another fixture) are marked `servers` and left out of `make test-fast`.
SERVER_FIXTURES = frozenset(
    {"bot", "console", "partner_console", "telegram_api", "twilio_api", "partner_api", "browser", "setting"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.servers)


@pytest.fixture(scope="session")
def model() -> Path:
    """The trained model, trained first if config, domain or data changed."""
    subprocess.run([str(PROJECT_ROOT / "scripts" / "train.sh")], check=True, cwd=PROJECT_ROOT)
    return MODEL


@pytest.fixture(scope="session")
def telegram_api() -> Iterator[FakeTelegram]:
    api = FakeTelegram()
    yield api
    api.close()


@pytest.fixture(scope="session")
def twilio_api() -> Iterator[FakeTwilio]:
    api = FakeTwilio()
    yield api
    api.close()


CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by .ci/run; Playwright drives it
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium driven by Playwright (sync API), one per test module that asks for it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


HANDOFF_FILE = Path(__file__).parent / "handoff_desks.yml"  # Nigeria only: no other test writes from there
CHANNEL_ENV = {
    "HELPLINE_SENDER_KEY": secrets.token_hex(32),
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "HELPLINE_REDIS_PREFIX": f"test-{secrets.token_hex(4)}:",  # this run's keys only; removed at the end
    "HELPLINE_HANDOFF_FILE": str(HANDOFF_FILE),
    "HELPLINE_TEST_GH_SECRET": secrets.token_hex(32),  # desk GH's webhook (the `bot` fixture's desks file)
}


def redis_keys_removed(prefix: str) -> None:
    client = redis.Redis.from_url(CHANNEL_ENV["REDIS_URL"])
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def partner_api() -> Iterator[FakePartner]:
    api = FakePartner()
    yield api
    api.close()


@pytest.fixture(scope="session")
def handoff_file(tmp_path_factory: pytest.TempPathFactory, partner_api: FakePartner) -> Path:
    """HANDOFF_FILE's desks, and desk GH whose tickets go to its own system (the fake partner)."""
    desks = yaml.safe_load(HANDOFF_FILE.read_text(encoding="utf-8"))
    desks["desks"]["GH"] = {
        "name": "Test desk GH",
        "webhook": {"url": partner_api.url, "secret_variable": "HELPLINE_TEST_GH_SECRET"},
    }
    path = tmp_path_factory.mktemp("desks") / "handoff.yml"
    path.write_text(yaml.safe_dump(desks), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def bot(
    model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    telegram_api: FakeTelegram,
    twilio_api: FakeTwilio,
    handoff_file: Path,
) -> Iterator[RunningBot]:
    """The whole bot as it runs in deployment (every channel, Redis), on free loopback ports."""
    env = {**CHANNEL_ENV, "HELPLINE_HANDOFF_FILE": str(handoff_file)}
    try:
        with running_bot(
            tmp_path_factory.mktemp("bot"), model, channel_credentials(telegram_api, twilio_api), env
        ) as started:
            yield started
    finally:
        redis_keys_removed(CHANNEL_ENV["HELPLINE_REDIS_PREFIX"])


@pytest.fixture(scope="session")
def console_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console")  # console.log: tests/test_privacy_flow.py reads it


@pytest.fixture(scope="session")
def console(console_folder: Path, handoff_file: Path) -> Iterator[str]:
    """The counsellors' console on the bot's Redis keys, as its own process; its base URL."""
    with running_console(console_folder, {**CHANNEL_ENV, "HELPLINE_HANDOFF_FILE": str(handoff_file)}) as base:
        yield base


@pytest.fixture(scope="session")
def accounts() -> dict[str, str]:
    """One counsellor of desk NG (the bot's test desk) and one of KE (another helpline)."""
    names = {"NG": f"amina-{secrets.token_hex(3)}", "KE": f"baraka-{secrets.token_hex(3)}"}

    async def create() -> None:
        client = aioredis.from_url(CHANNEL_ENV["REDIS_URL"])
        for helpline, name in names.items():
            await Counsellors(client, CHANNEL_ENV["HELPLINE_REDIS_PREFIX"] + "console:").add(name, helpline, PASSWORD)
        await client.close()

    # A session-wide sync fixture (its tests are sync: HTTP, Playwright's sync API): a short loop of its
    # own for this one-off setup, rather than a session-scoped pytest-asyncio loop kept open beside them.
    asyncio.run(create())
    return names
