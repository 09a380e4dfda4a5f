"""At most N turns at once per server, and a child in danger first (bot.storage.turn_gate)."""

from __future__ import annotations

import asyncio

import pytest

from bot.storage.turn_gate import TurnGate


async def test_no_more_than_size_turns_run_at_once_and_the_rest_go_in_arrival_order() -> None:
    gate, running, most, order = TurnGate(2), 0, 0, []

    async def turn(name: str) -> None:
        nonlocal running, most
        async with gate.slot():
            running += 1
            most = max(most, running)
            order.append(name)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(turn(f"t{i}") for i in range(7)))
    assert most == 2 and order == [f"t{i}" for i in range(7)]


async def test_an_urgent_turn_goes_before_those_that_came_earlier() -> None:
    gate, order = TurnGate(1), []
    release = asyncio.Event()

    async def turn(name: str, urgent: bool = False) -> None:
        async with gate.slot(urgent):
            order.append(name)
            if name == "first":
                await release.wait()

    tasks = [asyncio.ensure_future(turn("first"))]
    await asyncio.sleep(0)
    tasks += [asyncio.ensure_future(turn(name)) for name in ("calm 1", "calm 2")]
    await asyncio.sleep(0)
    tasks.append(asyncio.ensure_future(turn("crisis", urgent=True)))
    await asyncio.sleep(0)
    assert gate.waiting == 3
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["first", "crisis", "calm 1", "calm 2"]


async def test_a_waiting_turn_cancelled_gives_up_its_place_and_the_slots_are_all_free_after() -> None:
    gate = TurnGate(1)
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot():
            await release.wait()

    holder = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert gate.waiting == 0
    release.set()
    await holder
    async with gate.slot():  # free again: taken at once
        pass
    assert gate._running == 0


def test_a_gate_needs_room_for_one_turn() -> None:
    with pytest.raises(ValueError):
        TurnGate(0)
