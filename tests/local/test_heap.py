"""The local processes' heap freezer: long-lived objects leave the full collections, and what of them became
cyclic garbage is still freed once they are thawed."""

from __future__ import annotations

import gc
import time
import weakref

from infra.local.heap import HeapFreezer


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_frozen_objects_leave_the_collections_and_their_cyclic_garbage_is_freed_after_a_thaw():
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle: reference counting alone never frees it
    gone = weakref.ref(a)
    freezer = HeapFreezer(freeze_every=0.05, thaw_every=2.0)
    freezer.start()
    try:
        at_start = gc.get_freeze_count()
        assert at_start > 0  # what was alive at the start (a process's imports) is out of the collector's passes
        later = [_Node() for _ in range(1000)]  # made after the start: frozen by the next periodic freeze
        deadline = time.monotonic() + 5
        while gc.get_freeze_count() < at_start + len(later) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gc.get_freeze_count() >= at_start + len(later)
        del a, b, later
        gc.collect()
        assert gone() is not None  # frozen: a collection does not walk it (the thaw is seconds away)
        deadline = time.monotonic() + 5
        while gone() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone() is None  # the thaw's full collection freed it
    finally:
        freezer.stop()
    assert gc.get_freeze_count() == 0
