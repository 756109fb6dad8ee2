"""Items a process keeps for a few seconds after reading them (an API key, a job handing out tasks, a window of
its queue).

Under load the same few items are read by nearly every request; keeping each for ``ttl`` seconds makes that one
read per process per ``ttl``. What is kept may be up to ``ttl`` seconds old where another process changed it;
the process that changes an item forgets it at once (``forget``). Each use documents what that staleness means.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
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


class KeptLists(_Keeping["_KeptList[V]"]):
    """Lists a process read, each kept for ``ttl`` seconds and handed out one item at a time: an item taken is
    gone from the list, so no two callers of this process are handed the same one. For reads whose items are
    each used once (a window of a queue) and whose use is conditional (an item someone elsewhere took meanwhile
    is refused where it is used, then dropped).

    An item handed out stays known for ``ttl`` seconds unless its use was ``refused``: a list read meanwhile
    (before its use took effect) is kept without it, so a later read does not hand it out twice either. Items
    must be hashable.

    ``prefer``: only the items it prefers are handed out of a list that holds any when kept (the others are left
    to whoever prefers them: the caller reads a new list when none is left for it); a list that holds none when
    kept hands out any."""

    def __init__(
        self,
        ttl: float,
        maxsize: int = 1024,
        timer: Callable[[], float] = time.monotonic,
        prefer: Callable[[V], bool] | None = None,
    ) -> None:
        super().__init__(ttl, maxsize, timer)
        self._prefer = prefer
        self._handed: TTLCache[Hashable, bool] = TTLCache(maxsize=maxsize * 16, ttl=ttl, timer=timer)
        self._read_locks: dict[Hashable, threading.Lock] = {}
        self._lists_kept: Counter[Hashable] = Counter()  # lists kept at each key so far

    def keep(self, key: Hashable, items: list[V]) -> None:
        prefer = self._prefer
        with self._lock:
            kept = [item for item in items if item not in self._handed]
            self._items[key] = _KeptList(kept, prefer is None or not any(prefer(item) for item in kept))
            self._lists_kept[key] += 1

    def take(self, key: Hashable, accept: Callable[[V], bool], *, settle: bool = False) -> V | None:
        """One of the kept items ``accept`` takes, at random: one ``prefer`` prefers, unless there is none such and
        the list held none when kept or ``settle`` (the caller read it just now) says any will do. None: nothing
        kept, too old, or none to take."""
        prefer = self._prefer
        with self._lock:
            kept = self._items.get(key)
            if kept is None:
                return None
            items = kept.items
            fits = [n for n, item in enumerate(items) if accept(item)]
            if prefer is not None and not kept.to_anyone:
                preferred = [n for n in fits if prefer(items[n])]
                fits = preferred if preferred or not settle else fits
            if not fits:
                return None
            item = items.pop(random.choice(fits))
            self._handed[item] = True
            return item

    def refused(self, item: V) -> None:
        """A use of ``item`` was refused (someone else took it, or it is not for the caller who took it): a list
        read later may hand it out again."""
        with self._lock:
            self._handed.pop(item, None)

    @contextlib.contextmanager
    def reading(self, key: Hashable) -> Iterator[bool]:
        """Held while one caller reads the list at ``key`` again, so the others wait for its read rather than
        each make their own: yields whether the caller should read (False: another kept a list while it waited)."""
        with self._lock:
            lock = self._read_locks.get(key) or self._read_locks.setdefault(key, threading.Lock())
            before = self._lists_kept[key]
        with lock:
            yield self._lists_kept[key] == before


@dataclass
class _KeptList(Generic[V]):
    items: list[V]
    to_anyone: bool  # every item may be handed out (``prefer`` prefers none of them, or there is no ``prefer``)
