"""Freezing start-up objects hides them from the collector, and still collects what comes after."""

import gc
import weakref

from bot.wiring.heap import freeze_startup_objects


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_start_up_objects_are_frozen_and_later_garbage_is_still_collected():
    gc.unfreeze()  # as a fresh process: another test's import (actions) may have frozen already
    kept = Node()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 0
        assert not any(found is kept for found in gc.get_objects())  # no collection walks it any more
        frozen = gc.get_freeze_count()
        after_start = Node()
        freeze_startup_objects()  # another channel's start-up: the first freeze stands
        # Not frozen again: nothing new joins the frozen objects (another thread of the test session,
        # a fake API's server, may free some of them meanwhile, so the count can only fall).
        assert gc.get_freeze_count() <= frozen and any(found is after_start for found in gc.get_objects())
        later = weakref.ref(Node())
        gc.collect()
        assert later() is None
    finally:
        gc.unfreeze()
