"""Items a process keeps for a few seconds after reading them (an API key, a job handing out tasks, a window of
its queue).

Under load the same few items are read by nearly every request; keeping each for ``ttl`` seconds makes that one
read per process per ``ttl``. What is kept may be up to ``ttl`` seconds old where another process changed it;
the process that changes an item forgets it at once (``forget``). Each use documents what that staleness means.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache

V = TypeVar("V")
K = TypeVar("K")  # what a ``_Keeping`` map holds


class _Keeping(Generic[K]):
    """A thread-safe map whose entries last ``ttl`` seconds (API processes serve requests on threads)."""

    def __init__(self, ttl: float, maxsize: int, timer: Callable[[], float]) -> None:
        self._items: TTLCache[Hashable, K] = TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)
        self._lock = threading.Lock()

    def forget(self, key: Hashable | None = None) -> None:
        """Read ``key`` (None: everything) again on its next use."""
        with self._lock:
            if key is None:
                self._items.clear()
            else:
                self._items.pop(key, None)


class Kept(_Keeping[V]):
    """A thread-safe map of what was read, each entry for ``ttl`` seconds; nothing is kept for a read that found
    nothing (so an item created elsewhere is seen at once)."""

    def __init__(self, ttl: float, maxsize: int = 4096, timer: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl, maxsize, timer)

    def get(self, key: Hashable, read: Callable[[], V | None]) -> V | None:
        """The kept value, else ``read()`` (kept unless None)."""
        with self._lock:
            kept = self._items.get(key)
        if kept is not None:
            return kept
        value = read()
        if value is not None:
            with self._lock:
                self._items[key] = value
        return value

    def keep(self, key: Hashable, value: V) -> None:
        """Keep ``value`` as if read now (what this process just read or wrote another way)."""
        with self._lock:
            self._items[key] = value

    def update(self, key: Hashable, change: Callable[[V], V]) -> None:
        """Replace a kept value with ``change(value)`` (a change this process just wrote); nothing if none kept."""
        with self._lock:
            kept = self._items.get(key)
            if kept is not None:
                self._items[key] = change(kept)


class KeptLists(_Keeping[list[V]]):
    """Lists a process read, each kept for ``ttl`` seconds and handed out one item at a time: an item taken is
    gone from the list, so no two callers of this process are handed the same one. For reads whose items are
    each used once (a window of a queue) and whose use is conditional (an item someone elsewhere took meanwhile
    is refused where it is used, then dropped)."""

    def __init__(self, ttl: float, maxsize: int = 1024, timer: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl, maxsize, timer)

    def keep(self, key: Hashable, items: list[V]) -> None:
        with self._lock:
            self._items[key] = list(items)

    def take(self, key: Hashable, accept: Callable[[V], bool]) -> V | None:
        """One of the kept items ``accept`` takes, at random (None: nothing kept, too old, or none accepted)."""
        with self._lock:
            items = self._items.get(key)
            fits = [n for n, item in enumerate(items or ()) if accept(item)]
            return items.pop(random.choice(fits)) if items and fits else None
