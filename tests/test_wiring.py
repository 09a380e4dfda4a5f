"""The wiring: settings read once and checked, each service built once per process on one Redis
pool, and the shape of the code (no module but the settings reads the environment; packages
import only the ones below them; no import circles)."""

from __future__ import annotations

import ast
import gc
import uuid
from pathlib import Path

import pytest
from redis.asyncio import BlockingConnectionPool, ConnectionPool

from bot import PROJECT_ROOT
from bot.handoff.queue import MemoryHandoffQueue, RedisHandoffQueue, Risk, Ticket
from bot.privacy.sender_ids import MissingSecret
from bot.stats.counters import MemoryStats, RedisStats
from bot.storage.stores import MemoryDedupe, RedisConversations, RedisDedupe
from bot.wiring.services import Services
from bot.wiring.settings import Settings, SettingsError, markdown_table

REDIS_URL = "redis://127.0.0.1:6379/0"
# Lower packages never import higher ones: a feature is testable with what is below it.
LAYERS = {
    "datafiles": 0,
    "storage": 1,
    "language": 1,
    "routing": 2,
    "delivery": 2,
    "handoff": 3,
    "privacy": 4,
    "stats": 4,
    "conversation": 5,
    "wiring": 6,
}
ENTRY_POINTS = ("__main__",)  # command lines sit on top of everything


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (PROJECT_ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_without_redis_every_store_is_in_this_services_memory():
    services = Services(Settings.from_environ({}))
    assert services.redis is None and services.settings.in_memory
    assert services.stores.backend == "memory" and isinstance(services.stores.dedupe, MemoryDedupe)
    assert isinstance(services.queue, MemoryHandoffQueue) and isinstance(services.counter, MemoryStats)
    other = Services(Settings.from_environ({}))
    assert services.stores.conversations is not other.stores.conversations  # no module-level state
    assert services.stores is services.stores and services.queue is services.queue  # built once


async def test_every_redis_service_shares_one_client_and_one_pool_and_waits_on_another():
    prefix = f"test-wiring-{uuid.uuid4().hex}:"
    before = {id(pool) for pool in gc.get_objects() if isinstance(pool, ConnectionPool)}
    services = Services(Settings.from_environ({"REDIS_URL": REDIS_URL, "HELPLINE_REDIS_PREFIX": prefix}))
    try:
        client = services.redis
        assert isinstance(services.stores.dedupe, RedisDedupe) and services.stores.dedupe.client is client
        assert isinstance(services.stores.conversations, RedisConversations)
        assert isinstance(services.queue, RedisHandoffQueue) and isinstance(services.counter, RedisStats)
        # each one works, under the prefix
        assert await services.stores.dedupe.first_time("telegram:s:1", 60) is True
        await services.stores.conversations.save("s", "{}", 60)
        ticket = await services.queue.open(Ticket.new("KE", "s", "sms", "KE", "en", Risk.ASKED, "talk_to_human"))
        await services.counsellors.add("wiring-test", "KE", "a long enough password")
        await services.redis_dedupe("partner").first_time("x", 60)
        await services.journal.record("s", "telegram:s:2", 60, {"channel": "telegram"})
        await services.stores.inbox.read("s", "0-0", wait_s=0.05)  # a long poll: on the waiting client
        await services.queue.events("KE", "0", block_ms=50)
        assert await client.exists(f"{prefix}dedupe:telegram:s:1", f"{prefix}conversation:s") == 2
        assert await client.exists(f"{prefix}handoff:ticket:{ticket.id}") == 1
        gc.collect()
        pools = {p for p in gc.get_objects() if isinstance(p, ConnectionPool) and id(p) not in before}
        assert pools == {client.connection_pool, services.redis_blocking.connection_pool}
        bounds = ((client.connection_pool, 0.3, 50), (services.redis_blocking.connection_pool, 35, 1000))
        for pool, time_limit, size in bounds:
            assert isinstance(pool, BlockingConnectionPool) and pool.max_connections == size
            options = pool.connection_kwargs
            assert options["socket_connect_timeout"] == 0.3 and options["socket_timeout"] == time_limit
    finally:
        async for key in services.redis.scan_iter(f"{prefix}*"):
            await services.redis.delete(key)
        await services.close()


@pytest.mark.parametrize(
    "environ, named",
    [
        ({"REDIS_URL": "notaurl"}, "REDIS_URL"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://127.0.0.1:port/0"}, "REDIS_URL"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/zero"}, "REDIS_URL"),
        ({"HELPLINE_REDIS_PREFIX": "has space"}, "HELPLINE_REDIS_PREFIX"),
        ({"CONSOLE_PORT": "80x"}, "CONSOLE_PORT"),
        ({"CONSOLE_PORT": "70000"}, "CONSOLE_PORT"),
        ({"HELPLINE_HANDOFF_FILE": "/nowhere/handoff.yml"}, "HELPLINE_HANDOFF_FILE"),
        ({"PUBLIC_URL": "bot.example.org"}, "PUBLIC_URL"),
    ],
)
def test_a_malformed_setting_stops_start_up_naming_the_variable(environ, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_environ(environ)


def test_a_malformed_redis_url_error_does_not_leak_the_password():
    with pytest.raises(SettingsError) as raised:
        Settings.from_environ({"REDIS_URL": "redis://:s3cret@127.0.0.1:port/0"})
    assert "s3cret" not in str(raised.value)


def test_settings_are_read_with_their_defaults_and_blank_means_unset():
    settings = Settings.from_environ({"REDIS_URL": "  ", "CONSOLE_PORT": "6000", "DESK_SECRET": "s" * 40})
    assert settings.in_memory and settings.redis_prefix == "helpline:" and settings.console_port == 6000
    assert settings.handoff_file == PROJECT_ROOT / "data" / "handoff.yml"
    assert settings.secret("DESK_SECRET") == "s" * 40 and settings.secret("UNSET") == ""


def test_with_redis_the_sender_key_must_be_set_and_long():
    with pytest.raises(MissingSecret, match="HELPLINE_SENDER_KEY"):
        Services(Settings.from_environ({"REDIS_URL": REDIS_URL})).sender_ids  # noqa: B018
    keyed = Services(Settings.from_environ({"REDIS_URL": REDIS_URL, "HELPLINE_SENDER_KEY": "k" * 40}))
    assert keyed.sender_ids.of("sms", "+254700000000") == keyed.sender_ids.of("sms", "+254700000000")


def test_the_readme_configuration_table_is_the_settings_own():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme, "README is out of date: paste `python -m bot.wiring settings`"


def test_only_the_settings_module_reads_the_environment():
    readers = []
    for path in python_files("bot", "channels", "actions", "console"):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        for node in ast.walk(tree):
            attribute = isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb")
            imported = (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(alias.name in ("environ", "getenv") for alias in node.names)
            )
            if attribute or imported:
                readers.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert all(reader.startswith("bot/wiring/settings.py:") for reader in readers), readers


def test_bot_is_packages_named_for_features():
    top = sorted(path.name for path in (PROJECT_ROOT / "bot").iterdir() if not path.name.startswith((".", "__")))
    assert top == sorted(LAYERS)
    assert all((PROJECT_ROOT / "bot" / name / "__init__.py").is_file() for name in LAYERS)


def test_packages_import_only_the_ones_below_them():
    upward = []
    for path in python_files("bot"):
        name = module_name(path)
        parts = name.split(".")
        if len(parts) < 2 or parts[-1] in ENTRY_POINTS:
            continue
        for imported in imports_of(path):
            target = imported.split(".")
            if target[0] == "bot" and len(target) > 1 and target[1] in LAYERS and target[1] != parts[1]:
                if LAYERS[target[1]] >= LAYERS[parts[1]]:
                    upward.append(f"{name} -> {imported}")
            if target[0] in ("channels", "actions", "console", "rasa", "rasa_sdk", "sanic"):
                upward.append(f"{name} -> {imported}")  # the core never imports its adapters or Rasa
    assert upward == []


def test_there_are_no_import_circles():
    modules = {module_name(path): path for path in python_files("bot", "channels", "actions", "console")}
    graph = {
        name: {imported for imported in imports_of(path) if imported in modules and imported != name}
        for name, path in modules.items()
    }
    state: dict[str, int] = {}  # 1: being visited, 2: done
    circles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                circles.append(trail[trail.index(other) :] + [other])
            elif other not in state:
                visit(other, trail + [other])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []
