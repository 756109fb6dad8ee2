"""A local process's long-lived objects kept out of the cyclic garbage collector's full passes.

A review workflow waiting on a person keeps its execution (about 1,600 Python objects in moto's engine) alive
for as long as the task stays open: 1,500 waiting files made the platform process hold 2.5 million objects,
and each of CPython's full collections walked them all (1–1.5 s each, about a tenth of the process's CPU while
a job launched and its tasks were worked). ``HeapFreezer`` moves what is alive into the permanent generation
every ``freeze_every`` seconds (``gc.freeze``), so a full collection walks only what was made since; every
``thaw_every`` seconds it puts them back (``gc.unfreeze``), so the next full collection frees whatever of them
became cyclic garbage meanwhile. Objects freed by reference counting (most) are freed at once either way.

The API and function workers run one too: what they import (botocore's service models, FastAPI's routes,
pydantic's validators, about 230,000 objects) lives as long as they do, and an API worker's full collections
walked it all (~130 ms each, a pause for every request it was serving).
"""

from __future__ import annotations

import gc
import threading
import time


class HeapFreezer:
    def __init__(self, *, freeze_every: float = 30.0, thaw_every: float = 600.0) -> None:
        self.freeze_every = freeze_every
        self.thaw_every = thaw_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Freeze what is alive now (a process's start-up: its imports, its clients), then every ``freeze_every``."""
        gc.freeze()
        self._thread = threading.Thread(target=self._run, name="heap-freezer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        gc.unfreeze()

    def _run(self) -> None:
        thawed = time.monotonic()
        while not self._stop.wait(self.freeze_every):
            if time.monotonic() - thawed >= self.thaw_every:
                gc.unfreeze()  # the next full collection (made now) walks everything again
                gc.collect()
                thawed = time.monotonic()
            gc.freeze()
