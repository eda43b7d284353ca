"""How fast and how much a workspace may send: a daily cap (FREE lower than the paid plans)
and a per-second rate. A step over either waits for its slot instead of failing.

Each send reserves a place in its UTC second, then in its UTC day (UpdateItem ADD 1, which
returns the new count: no read, no lock, two requests). Its place says when it may go:
- place n in a second of rate r: now if n <= r, else (n - 1) // r seconds later, so a burst
  spreads over the following seconds instead of retrying all at once;
- place n in a day of cap c: now if n <= c, else the next UTC day, spread over its first
  seconds at the plan's rate in arrival order.
The second is reserved first, so a step delayed by the rate does not use up the day. A step
that comes back after its wait reserves again. Reservations are not given back when a send
fails: the cap errs on sending less.

Public: `wait_seconds(workspace_id, plan=None, now=None) -> int` (0: send now).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from chalicelib.models.plans import Plan
from chalicelib.models.sending import SendWindow
from chalicelib.platform import clock
from chalicelib.platform.db import Item
from chalicelib.workspaces import service as workspaces

DAILY_CAP = {Plan.FREE: 300, Plan.STARTER: 10_000, Plan.PRO: 100_000}
PER_SECOND = {Plan.FREE: 2, Plan.STARTER: 10, Plan.PRO: 14}  # 14/s: SES's default account rate
_SECOND_TTL = timedelta(hours=1)
_DAY_TTL = timedelta(days=3)
_PLAN_CACHE_SECONDS = 300.0
_plans: dict[str, tuple[float, str]] = {}


def wait_seconds(workspace_id: str, plan: str | None = None, now: datetime | None = None) -> int:
    """Reserve a send now; how many seconds to wait before sending (0: send at once)."""
    moment = (now or clock.now()).astimezone(UTC)
    chosen = Plan(plan or plan_of(workspace_id))
    rate, cap = PER_SECOND[chosen], DAILY_CAP[chosen]
    second = int(moment.timestamp())
    place = _reserve(workspace_id, f"SEC#{second}", _SECOND_TTL)
    if place > rate:
        return (place - 1) // rate
    place = _reserve(workspace_id, f"DAY#{moment:%Y-%m-%d}", _DAY_TTL)
    if place <= cap:
        return 0
    tomorrow = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    until_tomorrow = int((tomorrow - moment).total_seconds()) + 1
    return until_tomorrow + min((place - cap - 1) // rate, 86_399)


def _reserve(workspace_id: str, window: str, ttl: timedelta) -> int:
    counter = SendWindow(SendWindow.partition(workspace_id), window)
    counter.update(
        actions=[Item.type.set(SendWindow), SendWindow.reserved.add(1), Item.ttl.set(clock.now() + ttl)]
    )
    return int(counter.reserved)


def plan_of(workspace_id: str) -> str:
    """The workspace's plan, read at most every 5 minutes per container."""

    cached = _plans.get(workspace_id)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    plan = workspaces.get(workspace_id).plan
    _plans[workspace_id] = (time.monotonic() + _PLAN_CACHE_SECONDS, plan)
    return plan
