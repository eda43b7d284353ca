"""When a contact's result for a filter can next change by time alone.

`withinLast` and `notWithinLast` compare a date with now: a date `d` and a span `s` make
`withinLast` true from `d` to `d + s` (both included) and `notWithinLast` true after `d + s`.
So the moments where a condition can flip are `d` and just after `d + s`. For a whole tree
(all / any / not) the earliest such moment over its time conditions is a safe moment to look
again: nothing in the tree can change by time before it, whatever the combination.

An engagement condition with `withinLast` is the same with `d` the event's last time (the
date field `evaluate.engagement_field` names; `negate` flips at the same moments).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.schemas.filters import EngagementCondition, FieldCondition
from chalicelib.segments.evaluate import Context, engagement_field, value_of
from chalicelib.segments.rules import DATE, Checked, conditions, parse_instant

RELATIVE_OPS = frozenset({"withinLast", "notWithinLast"})
# The evaluator counts `d + s` itself as within: the flip is the moment after; timers count
# whole seconds.
_AFTER = timedelta(seconds=1)


def is_time_relative(checked: Checked) -> bool:
    """Whether the filter has conditions whose result changes as time passes."""
    return any(_relative(condition, checked) for condition in conditions(checked.node))


def next_crossing(checked: Checked, contact: Mapping[str, Any], context: Context) -> datetime | None:
    """The earliest moment after `context.now` at which one of the filter's time conditions
    changes for this contact (None: none ever will, with the contact as it is)."""
    moments: list[datetime] = []
    for condition in conditions(checked.node):
        if not _relative(condition, checked):
            continue
        if isinstance(condition, EngagementCondition):
            assert condition.within_last is not None
            field, span = engagement_field(condition), {"seconds": condition.within_last.seconds()}
        else:
            assert isinstance(condition, FieldCondition)
            if not isinstance(condition.value, Mapping):
                continue
            unit, amount = next(iter(condition.value.items()))
            field, span = condition.field, {str(unit): int(amount)}
        value = value_of(contact, field, context)
        moment = parse_instant(str(value)) if value not in (None, "") else None
        if moment is None:
            continue  # a missing date never matches, whenever it is
        try:
            end: datetime | None = moment + timedelta(**span) + _AFTER
        except OverflowError:
            end = None  # past the calendar's last day (a date of 9999-12-31): it never comes
        moments += [m for m in (moment, end) if m is not None and m > context.now]
    return min(moments, default=None)


def _relative(condition: Any, checked: Checked) -> bool:
    if isinstance(condition, EngagementCondition):
        return condition.within_last is not None
    if not isinstance(condition, FieldCondition) or condition.op not in RELATIVE_OPS:
        return False
    kind = checked.kinds.get(condition.field)
    return kind is not None and kind.type == DATE
