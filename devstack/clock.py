"""The local stack's clock, moved forward by a test (only `python -m devstack` installs it).

DEVSTACK_CLOCK_OFFSET_FILE names a file holding a number of seconds; the app's clock
(`chalicelib.platform.clock.now`) and the stack's schedules then read the real time plus that
offset, so an e2e test can let hours pass in seconds (`withinLast` rules, minute buckets of
`chalicelib/timers/due.py`). The file is read at most once a second; a missing or unreadable
file is an offset of 0. Not moved: moto's SQS delays and Powertools' idempotency expiries
(they keep real time, so a message delayed by SQS is not hurried).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

OFFSET_FILE_VARIABLE = "DEVSTACK_CLOCK_OFFSET_FILE"
READ_EVERY_SECONDS = 1.0


class MovedClock:
    """Real time plus the offset the file holds. `on_move`: told each new offset, before any
    read returns it (the stack prints it, so a test knows from when its move is seen)."""

    def __init__(
        self,
        path: Path,
        on_move: Callable[[timedelta], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._monotonic = monotonic
        self._on_move = on_move or (lambda _offset: None)
        self._lock = threading.Lock()
        self._offset = timedelta()
        self._read_at: float | None = None

    def offset(self) -> timedelta:
        with self._lock:
            if self._read_at is None or self._monotonic() - self._read_at >= READ_EVERY_SECONDS:
                offset = self._read()
                if offset != self._offset:
                    self._on_move(offset)
                self._offset = offset
                self._read_at = self._monotonic()
            return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def _read(self) -> timedelta:
        try:
            return timedelta(seconds=float(self.path.read_text().strip() or 0))
        except (OSError, ValueError):
            return timedelta()


def from_environment(on_move: Callable[[timedelta], None] | None = None) -> MovedClock | None:
    path = os.environ.get(OFFSET_FILE_VARIABLE)
    return MovedClock(Path(path), on_move) if path else None


def install(moved: MovedClock) -> None:
    """The app's clock reads the moved one (every caller reads `clock.now()` at call time)."""
    from chalicelib.platform import clock

    clock.now = moved.now  # the same signature: every caller reads `clock.now` at call time
