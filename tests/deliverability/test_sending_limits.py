"""Sending limits: a per-second rate and a daily cap per plan; a send over either waits for
its slot (a number of seconds) instead of failing."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.deliverability import sending_limits
from chalicelib.models.plans import Plan
from chalicelib.models.sending import SendWindow
from chalicelib.platform.db import Item
from tests.support.workspaces import workspace_of

NOON = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)


def fill_day(ws: str, day: str, count: int) -> None:
    window = SendWindow(SendWindow.partition(ws), f"DAY#{day}")
    window.update(actions=[Item.type.set(SendWindow), SendWindow.reserved.set(count)])


def test_a_burst_over_the_rate_spreads_over_the_next_seconds(new_workspace, requests) -> None:
    ws = workspace_of(new_workspace("FREE"))
    rate = sending_limits.PER_SECOND[Plan.FREE]
    requests.reset()
    waits = [sending_limits.wait_seconds(ws, "FREE", NOON) for _ in range(3 * rate)]
    assert waits == [0] * rate + [1] * rate + [2] * rate
    # Two UpdateItems for a send that goes, one for a send the rate delays.
    assert requests.snapshot() == {"dynamodb.UpdateItem": 2 * rate + 1 * (2 * rate)}
    assert sending_limits.wait_seconds(ws, "FREE", NOON.replace(second=1)) == 0


def test_over_the_daily_cap_a_send_waits_for_the_next_utc_day(new_workspace) -> None:
    ws = workspace_of(new_workspace("FREE"))
    cap, rate = sending_limits.DAILY_CAP[Plan.FREE], sending_limits.PER_SECOND[Plan.FREE]
    fill_day(ws, "2026-11-20", cap - 1)
    assert sending_limits.wait_seconds(ws, "FREE", NOON) == 0  # the last one of the day
    twelve_hours = 12 * 3600 + 1
    later = [sending_limits.wait_seconds(ws, "FREE", NOON.replace(second=s)) for s in range(1, 1 + 2 * rate)]
    assert later == [twelve_hours - s + (n // rate) for n, s in enumerate(range(1, 1 + 2 * rate))]
    # The next day starts afresh.
    assert sending_limits.wait_seconds(ws, "FREE", NOON.replace(day=21)) == 0


def test_paid_plans_send_more_per_day_and_per_second(new_workspace) -> None:
    assert sending_limits.DAILY_CAP[Plan.FREE] < sending_limits.DAILY_CAP[Plan.STARTER]
    assert sending_limits.DAILY_CAP[Plan.STARTER] <= sending_limits.DAILY_CAP[Plan.PRO]
    assert sending_limits.PER_SECOND[Plan.FREE] < sending_limits.PER_SECOND[Plan.PRO]
    free, pro = workspace_of(new_workspace("FREE")), workspace_of(new_workspace("PRO", name="Big"))
    for ws in (free, pro):
        fill_day(ws, "2026-11-20", sending_limits.DAILY_CAP[Plan.FREE])
    # The plan is read from the workspace when not given.
    assert sending_limits.wait_seconds(free, now=NOON) > 0
    assert sending_limits.wait_seconds(pro, now=NOON) == 0


def test_workspaces_do_not_share_their_limits(new_workspace) -> None:
    # GIVEN
    first, second = workspace_of(new_workspace("FREE")), workspace_of(new_workspace("FREE", name="Two"))
    # WHEN
    fill_day(first, "2026-11-20", 10_000)
    # THEN
    assert sending_limits.wait_seconds(first, "FREE", NOON) > 0
    assert sending_limits.wait_seconds(second, "FREE", NOON) == 0
