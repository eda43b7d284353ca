"""The `fake_clock` fixture: time that stands still until the test moves it, for every clock the
code under test reads, so a test about waits and expiries never depends on how fast the
machine runs:

- the app's injected clock (`chalicelib.platform.clock.now`, and so `now_iso`);
- moto's SQS (a message's DelaySeconds and visibility timeout);
- Powertools idempotency (a record's expiry and its in-progress expiry).

    def test_a_short_wait(api, pump, fake_clock) -> None:
        ...                                   # a step with a 1 s wait is sent
        pump.drain()                          # not due yet, however long that took
        fake_clock.drain(pump, wait=3)        # time moves on: the step runs

Between two moves, every read of the app clock is a millisecond later than the one before
and every read of SQS's a microsecond (a message made visible again with VisibilityTimeout 0
is visible at the next receive), as real time moves between two calls; Powertools' stands
still. However many reads a test makes, a one-second delay needs the test to move the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.invoke import Invocation
from devstack.pump import Pump

_POWERTOOLS_MODULES = (
    "aws_lambda_powertools.utilities.idempotency.base",
    "aws_lambda_powertools.utilities.idempotency.persistence.base",
    "aws_lambda_powertools.utilities.idempotency.persistence.datarecord",
    "aws_lambda_powertools.utilities.idempotency.persistence.dynamodb",
)


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.moment = start.astimezone(dt.UTC)
        self._app_reads = 0
        self._sqs_reads = 0

    def now(self) -> dt.datetime:
        """The app clock's `now` (aware UTC): a millisecond later at every read, as real time is
        between two calls, so that what was written first shows it in its ISO timestamp."""
        self._app_reads += 1
        return self.moment + dt.timedelta(milliseconds=self._app_reads)

    def advance(self, seconds: float) -> None:
        self.moment += dt.timedelta(seconds=seconds)

    def drain(self, pump: Pump, wait: float) -> list[Invocation]:
        """`pump.drain(wait=...)` on this clock: deliver until idle; then, while a queue still
        holds messages that are not due, move time on a second at a time, up to `wait` seconds,
        delivering what comes due. No wall-clock wait."""
        calls = pump.drain()
        waited = 0.0
        while waited < wait and any(q.waiting() for q in [*pump.queues, *pump.topics]):
            step = min(1.0, wait - waited)
            self.advance(step)
            waited += step
            calls.extend(pump.drain())
        return calls

    def sqs_millis(self, moment: dt.datetime | None = None) -> float:
        """moto's `unix_time_millis` (moment: naive UTC, as moto passes it)."""
        if moment is not None:
            return (
                moment.replace(tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            ).total_seconds() * 1000
        self._sqs_reads += 1
        return self.moment.timestamp() * 1000 + self._sqs_reads / 1000

    def datetime_module(self) -> Any:
        """A stand-in for the `datetime` module (imported as `dt`) of Powertools' idempotency:
        its `datetime.now()` is this clock's time (naive local, as datetime.now() is)."""
        clock = self

        class FakeDatetime(dt.datetime):
            @classmethod
            def now(cls, tz: dt.tzinfo | None = None) -> Any:
                moment = clock.moment.astimezone(tz)
                return moment if tz is not None else moment.replace(tzinfo=None)

        return _DatetimeModule(FakeDatetime)


class _DatetimeModule:
    """The `datetime` module with another `datetime` class."""

    def __init__(self, datetime: type[dt.datetime]) -> None:
        self.datetime = datetime

    def __getattr__(self, name: str) -> Any:
        return getattr(dt, name)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    import importlib

    from moto.sqs import models as sqs_models

    from chalicelib.platform import clock

    fake = FakeClock(dt.datetime.now(dt.UTC))
    monkeypatch.setattr(clock, "now", fake.now)
    monkeypatch.setattr(sqs_models, "unix_time_millis", fake.sqs_millis)
    datetime_module = fake.datetime_module()
    for name in _POWERTOOLS_MODULES:
        monkeypatch.setattr(importlib.import_module(name), "dt", datetime_module)
    yield fake
