"""Time passing for timed work on the injected clock: the every-minute schedule catches up."""

from __future__ import annotations

from typing import Any

from tests.support.clock import FakeClock


def let_time_pass(fake_clock: FakeClock, pump: Any, seconds: float) -> None:
    """Time moves on; the every-minute schedule releases what came due (run until it has
    caught up with now, as it would have run every minute meanwhile); the queues run."""
    from chalicelib.models.timers import TimerCheckpoint
    from chalicelib.platform import clock
    from chalicelib.timers import due

    fake_clock.advance(seconds)
    now = clock.now().strftime("%Y-%m-%dT%H:%M")
    for _ in range(100):
        due.release_due()
        if TimerCheckpoint.get(*TimerCheckpoint.key(), consistent_read=True).minute >= now:
            break
    assert all(call.ok for call in fake_clock.drain(pump, wait=5))
