"""Let the work that can wait give way to the work that cannot, when the CPU is short.

A Rasa server's event loop answers webhooks, opens crisis tickets and sends replies: a child in
danger waits on it. The model's work (Rasa's graph thread, channels/rasa_graph_thread.py, and the
whole action server) takes most of the CPU and can wait a few milliseconds. On a machine that runs
several of them (a small helpline's one server, or this project's 2-core test machines), the
operating system then runs the loop first. With CPU to spare nothing changes.
"""

from __future__ import annotations

import logging
import os
import threading

logger = logging.getLogger(__name__)

NICENESS = 5  # added to the process's own


def lower_this_thread() -> None:
    """Lower the calling thread's priority by NICENESS (Linux sets it per thread, by its native
    id; elsewhere it is the process's). Where that fails, it runs as it is."""
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS))
    except OSError as error:
        logger.warning("this thread keeps its priority (%s)", error)


def lower_this_process() -> None:
    """Lower the whole process's priority by NICENESS (the action server: all of it can wait)."""
    try:
        os.nice(NICENESS)
    except OSError as error:
        logger.warning("this process keeps its priority (%s)", error)
