"""The stack's long-lived objects, kept out of Python's full garbage collections.

moto holds every item, index copy and stream record as Python objects that live as long as the
stack. A full collection of CPython's cyclic GC walks every tracked object while holding the
GIL, and runs each time the tracked objects grew by a quarter: with an import of 100,000 rows
in progress (1 to 4 GB of objects) one took 2 to 9 s, and every request and poller of the stack
waited for it (`/api/v1/health` answered in up to 8.8 s, bench/scale.py). While the state
changes, what is alive is frozen out of later collections (`gc.freeze`) every FREEZE_SECONDS,
after a collection of what is not frozen yet (cheap: only what came since the last freeze), so
no garbage is frozen. A cycle alive at that instant and dropped later stays allocated (a request
in flight: kilobytes); an idle stack freezes nothing, so that cost follows writes, not time.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

FREEZE_SECONDS = 5.0


class Freezer:
    def __init__(self, changes: Callable[[], int], every: float = FREEZE_SECONDS) -> None:
        """`changes`: a count that moves when the stack's state changes (devstack.persist.changes)."""
        self._changes = changes
        self._every = every
        self._seen = changes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="devstack-heap", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def tick(self) -> bool:
        """Freeze what is alive if the state changed since the last tick; whether it did."""
        now = self._changes()
        if now == self._seen:
            return False
        self._seen = now
        gc.collect()  # walks only what is not frozen yet; garbage cycles go before the freeze
        gc.freeze()
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self.tick()
