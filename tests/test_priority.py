"""The work that can wait gives way (bot/wiring/priority.py): a thread or a whole process one
step below what it was, never above, and a failure leaves it running."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from bot.wiring.priority import NICENESS, lower_this_process, lower_this_thread


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_thread_is_lowered_and_the_others_are_not():
    before = niceness()
    seen: list[int] = []

    def work() -> None:
        lower_this_thread()
        seen.append(niceness())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [min(19, before + NICENESS)] and niceness() == before


def test_a_process_is_lowered_once_asked():
    code = (
        "import os; from bot.wiring.priority import lower_this_process as l; a = os.nice(0); l(); print(a, os.nice(0))"
    )
    before, after = map(
        int, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    )
    assert after == min(19, before + NICENESS)


def test_a_priority_that_cannot_change_leaves_the_thread_running(monkeypatch, caplog):
    def refuse(*_: object) -> None:
        raise PermissionError("not allowed")

    monkeypatch.setattr(os, "setpriority", refuse)
    monkeypatch.setattr(os, "nice", refuse)
    lower_this_thread()
    lower_this_process()
    assert "keeps its priority" in caplog.text
