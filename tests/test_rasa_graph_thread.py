"""Rasa's model runs in its own thread, at a lower priority (channels/rasa_graph_thread.py): the
same answers as Rasa's own calls, while the event loop goes on."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.trackers import DialogueStateTracker

import channels  # noqa: F401 - installs the thread, as Rasa loading our channels does
from bot.wiring.priority import NICENESS
from channels.rasa_graph_thread import GRAPH

pytestmark = pytest.mark.rasa


@pytest.fixture(scope="module")
def agent(model) -> Agent:
    return Agent.load(str(model))


def threads_of_graph_runs(agent: Agent) -> list[str]:
    """Record the thread of every graph run from now on."""
    seen: list[str] = []
    runner = agent.processor.graph_runner
    run = runner.run

    def recorded(*args: Any, **kwargs: Any) -> Any:
        seen.append(threading.current_thread().name)
        return run(*args, **kwargs)

    runner.run = recorded
    return seen


async def test_a_message_is_parsed_in_the_graph_thread_as_rasa_parses_it(agent):
    seen = threads_of_graph_runs(agent)
    for text in ("i want to die", "hola", "nataka kuongea na mtu", "家里有人打我"):
        message = UserMessage(text, sender_id="graph-test")
        tracker = DialogueStateTracker.from_events("graph-test", [])
        direct = agent.processor._parse_message_with_graph(message, tracker)  # Rasa's own, in this thread
        assert await agent.processor.parse_message(message, tracker) == direct
    assert seen[1::2] and set(seen[1::2]) == {"rasa-graph_0"}  # the patched calls, not this thread's


async def test_the_next_action_is_predicted_in_the_graph_thread_and_run_in_the_loop(agent):
    seen = threads_of_graph_runs(agent)
    ran: list[tuple[str, str]] = []

    async def run_action(*args: Any, **kwargs: Any) -> bool:
        action = kwargs["action"] if "action" in kwargs else args[0]
        ran.append((action.name(), threading.current_thread().name))
        return False  # the policy would say "listen" next

    agent.processor._run_action = run_action
    try:
        await agent.processor.handle_message(UserMessage("hello", CollectingOutputChannel(), "graph-test-2"))
    finally:
        del agent.processor._run_action
    assert [name for name, _ in ran] == ["action_session_start", "action_reply"]
    assert {thread for _, thread in ran} == {threading.current_thread().name}
    assert seen and set(seen) == {"rasa-graph_0"}


PARSES = 120


async def test_the_loop_keeps_turning_while_the_graph_works(agent):
    """120 messages parsed at once: a coroutine that ticks every millisecond keeps ticking between
    one parse's end and the next, as it could not when they ran in the loop (then every parse of the
    batch ended in one stretch of the loop's time, with no tick between). Counted, not timed: a
    loaded CI machine pauses any process now and then, and the loop waits for the interpreter's lock
    while the graph thread holds it (a CI run saw a tick only every 8 parses: 3 distinct counts
    between the first parse's end and the last of 60)."""
    ticks: list[int] = []
    ended: list[int] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            await asyncio.sleep(0.001)
            ticks.append(len(ended))  # how many parses had ended at this tick

    async def parse(n: int) -> None:
        await agent.processor.parse_message(UserMessage(f"help me please {n}"), tracker)
        ended.append(n)

    ticker = asyncio.ensure_future(tick())
    tracker = DialogueStateTracker.from_events("graph-test-3", [])
    await asyncio.gather(*(parse(n) for n in range(PARSES)))
    done.set()
    await ticker
    between = [count for count in ticks if 0 < count < PARSES]  # after the first parse ended, before the last
    assert len(set(between)) >= 3, ticks


def test_the_graph_thread_runs_one_call_at_a_time_below_the_servers_priority():
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    server = niceness()
    assert GRAPH._max_workers == 1
    assert GRAPH.submit(niceness).result() == min(19, server + NICENESS)
