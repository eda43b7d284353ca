"""`schedule` handlers: when a rate(...) or cron(...) expression fires next, and running those due.

Times are UTC, as EventBridge's. A rate fires one period after the stack starts, then every
period. Cron is EventBridge's six fields (minutes hours day-of-month month day-of-week year,
day-of-week 1-7 = SUN-SAT) with `* ? , - /`, month and day names, `L` and `#`; `W` is not
supported locally (such a schedule is reported and not run).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from devstack.events import LambdaContext, scheduled_event
from devstack.invoke import Invocation, invoke
from devstack.sources import ScheduleSource

_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
_SEARCH_YEARS = 8  # long enough for 29 February or a given weekday of it


def next_time(expression: str, after: datetime, start: datetime) -> datetime:
    """The first firing strictly after `after` of a schedule created at `start`."""
    rate = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression.strip())
    if rate:
        period = timedelta(seconds=int(rate.group(1)) * _UNITS[rate.group(2)])
        periods = (after - start) // period + 1
        return start + periods * period
    cron = re.fullmatch(r"cron\((.+)\)", expression.strip())
    if cron:
        return _next_cron(cron.group(1).split(), after)
    raise ValueError(f"not a schedule expression: {expression!r}")


def _next_cron(fields: list[str], after: datetime) -> datetime:
    if len(fields) != 6:
        raise ValueError(f"cron needs six fields, got {fields}")
    minutes, hours = _values(fields[0], 0, 59), _values(fields[1], 0, 23)
    months, years = _values(fields[3], 1, 12, _MONTHS), _values(fields[5], 1970, 2199)
    day_matches = _day_matcher(fields[2], fields[4])
    first = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = first.date()
    while day.year <= first.year + _SEARCH_YEARS:
        if day.year in years and day.month in months and day_matches(day):
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                    if moment >= first:
                        return moment
        day += timedelta(days=1)
    raise ValueError(f"cron({' '.join(fields)}) never fires")


def _values(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    def number(token: str) -> int:
        return (names or {}).get(token.upper()) or int(token)

    values: set[int] = set()
    for item in text.split(","):
        base, _, step = item.partition("/")
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            first, last = (number(part) for part in base.split("-", 1))
        else:
            first = number(base)
            last = high if step else first
        values.update(range(first, last + 1, int(step or 1)))
    return values


def _day_matcher(day_of_month: str, day_of_week: str) -> Callable[[date], bool]:
    """EventBridge wants one of the two day fields to be `?`; the other decides."""
    if "W" in day_of_month.upper():
        raise ValueError("cron's W (nearest weekday) is not supported by devstack")
    if day_of_month != "?":
        if day_of_month.upper() == "L":
            return lambda d: d.day == calendar.monthrange(d.year, d.month)[1]
        days = _values(day_of_month, 1, 31)
        return lambda d: d.day in days
    if day_of_week in ("?", "*"):
        return lambda d: True
    tests = [_weekday_test(item) for item in day_of_week.split(",")]
    return lambda d: any(test(d) for test in tests)


def _weekday_test(item: str) -> Callable[[date], bool]:
    def aws_weekday(d: date) -> int:  # 1 = Sunday ... 7 = Saturday
        return (d.weekday() + 1) % 7 + 1

    item = item.upper()
    if "#" in item:  # 2#1: the first Monday of the month
        weekday, nth = item.split("#")
        wanted = _values(weekday, 1, 7, _DAYS)
        return lambda d: aws_weekday(d) in wanted and (d.day - 1) // 7 + 1 == int(nth)
    if item.endswith("L"):  # 6L: the last Friday of the month
        wanted = _values(item[:-1] or "7", 1, 7, _DAYS)
        return lambda d: aws_weekday(d) in wanted and d.day + 7 > calendar.monthrange(d.year, d.month)[1]
    wanted = _values(item, 1, 7, _DAYS)
    return lambda d: aws_weekday(d) in wanted


class Scheduler:
    """The schedule handlers of an app and when each fires next."""

    def __init__(
        self,
        sources: list[ScheduleSource],
        *,
        context: Callable[[str], LambdaContext],
        log: Callable[[str], None],
        now: datetime | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`clock`: what "now" is when none is given (real time by default; devstack/clock.py)."""
        self._clock = clock or (lambda: datetime.now(UTC))
        self._start = now or self._clock()
        self._context = context
        self.sources = {source.name: source for source in sources}
        self.next: dict[str, datetime] = {}
        for source in sources:
            try:
                self.next[source.name] = next_time(source.expression, self._start, self._start)
            except ValueError as error:
                log(f"[schedule] {source.name}: {source.expression} not run locally: {error}")

    def run_due(self, now: datetime | None = None) -> list[Invocation]:
        """Invoke every schedule whose time has come (once, even if several firings were missed)."""
        now = now or self._clock()
        calls = []
        for name, when in sorted(self.next.items(), key=lambda item: item[1]):
            if when <= now:
                calls.append(self.invoke(name, at=when))
                self.next[name] = next_time(self.sources[name].expression, now, self._start)
        return calls

    def invoke(self, name: str, at: datetime | None = None) -> Invocation:
        """Fire one schedule now, whatever its timetable says."""
        source = self.sources[name]
        event = scheduled_event(f"{name}-event", at=at)
        return invoke(name, "schedule", source.handler, event, self._context(name))

    def seconds_until_next(self, now: datetime | None = None) -> float | None:
        if not self.next:
            return None
        now = now or self._clock()
        return max(0.0, (min(self.next.values()) - now).total_seconds())
