"""The local stack's movable clock (devstack/clock.py): an e2e test writes an offset to a file,
the app's clock and the stack's schedules read real time plus it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devstack.clock import MovedClock, from_environment, install
from devstack.events import LambdaContext
from devstack.schedules import Scheduler
from devstack.sources import ScheduleSource


class Ticks:
    """An injected monotonic clock: stands still until the test moves it."""

    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


def test_a_move_is_read_at_most_once_a_second_and_announced_once(tmp_path: Path) -> None:
    # GIVEN a clock on an offset file holding 0
    offset_file, ticks, moves = tmp_path / "offset", Ticks(), []
    offset_file.write_text("0")
    moved = MovedClock(offset_file, moves.append, monotonic=ticks)
    assert abs(moved.now() - datetime.now(UTC)) < timedelta(seconds=5)
    # WHEN the test moves it 2 hours ahead
    offset_file.write_text("7200")
    # THEN the move is seen once the second is over, and announced once
    assert moved.offset() == timedelta()
    ticks.value += 1.0
    assert moved.offset() == timedelta(hours=2)
    ticks.value += 1.0
    assert moved.offset() == timedelta(hours=2)
    assert moves == [timedelta(hours=2)]
    assert moved.now() - datetime.now(UTC) > timedelta(hours=1, minutes=59)


def test_a_missing_or_unreadable_file_is_no_move(tmp_path: Path) -> None:
    assert MovedClock(tmp_path / "absent").offset() == timedelta()
    (tmp_path / "bad").write_text("soon")
    assert MovedClock(tmp_path / "bad").offset() == timedelta()


def test_only_the_variable_installs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.platform import clock

    monkeypatch.delenv("DEVSTACK_CLOCK_OFFSET_FILE", raising=False)
    assert from_environment() is None
    (tmp_path / "offset").write_text("3600")
    monkeypatch.setenv("DEVSTACK_CLOCK_OFFSET_FILE", str(tmp_path / "offset"))
    moved = from_environment()
    assert moved is not None
    monkeypatch.setattr(clock, "now", clock.now)  # restored after the test
    install(moved)
    assert clock.now() - datetime.now(UTC) > timedelta(minutes=59)


def test_a_schedule_fires_as_soon_as_its_clock_is_moved_past_it() -> None:
    # GIVEN an every-minute schedule on a clock the test moves
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = [start]
    fired: list[str] = []
    source = ScheduleSource(
        name="tick", handler=lambda event, context: fired.append("tick"), expression="rate(1 minute)"
    )
    scheduler = Scheduler([source], context=lambda name: LambdaContext(name), log=print, clock=lambda: now[0])
    assert scheduler.run_due() == [] and fired == []
    # WHEN the clock is moved 2 hours on
    now[0] = start + timedelta(hours=2)
    # THEN it fires once, at once, and next a minute later on that clock
    scheduler.run_due()
    assert fired == ["tick"]
    assert scheduler.seconds_until_next() == 60.0
