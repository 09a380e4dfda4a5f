"""Keep the garbage collector off what a server loads once at start-up.

Rasa's model, TensorFlow and the dialogue's data are millions of objects that live as long as the
process. Each full collection walked them all: 0.3 to 0.6 s with the event loop stopped, every few
seconds under load, and every conversation waiting meanwhile (a crisis message too). Frozen after
start-up, they are skipped; what a message creates is still collected as before.

Start-up also trains the risk classifier, whose working matrices (about 40 MB) are freed but kept
by the C allocator; they are handed back to the system then, where the C library can (glibc).
"""

from __future__ import annotations

import ctypes
import gc


def freeze_startup_objects() -> None:
    """Collect start-up garbage, then move every surviving object out of the collector's sight;
    once per process (each channel's blueprint asks, as its server starts)."""
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
    _return_free_memory()


def _return_free_memory() -> None:
    """Give the memory freed at start-up back to the system (glibc's malloc_trim; elsewhere nothing).
    The process's own symbols are searched (``CDLL(None)``): looking for libc by name would run ldconfig."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
