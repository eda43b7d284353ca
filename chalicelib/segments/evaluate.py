"""Whether a contact matches a filter: the one evaluator of the product, so a search, a count
and anything else that filters contacts can never disagree.

Text is compared case- and accent-insensitively (as the `q` search is); a select's and a
tag's values exactly. A negative operator (`ne`, `notIn`, `hasNone`) holds for a contact
without the value; every other operator, but `notExists`, needs the value. An archived
contact matches no filter.

An engagement condition reads the contact's engagement facts (chalicelib.contacts.engagement,
on the Contact item and in its stream images): the last time of the event, for the campaign
or any, within the last `days` of `now` if it says so; `negate` turns the answer round. That
last time is exposed as a date field, `engagement_field(condition)` read by `value_of`, so
what computes when a `withinLast` date condition stops holding (its crossing time) covers
engagement conditions alike: `{"event": E, "campaignId": C, "withinLast": {"days": n}}` is the
date condition `{"field": engagement_field(...), "op": "withinLast", "value": {"days": n}}`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.contacts.engagement import last_time
from chalicelib.contacts.identity import fold
from chalicelib.schemas.filters import (
    AllNode,
    AnyNode,
    EngagementCondition,
    FieldCondition,
    FilterNode,
    NotNode,
)
from chalicelib.segments.rules import (
    BOOLEAN,
    CUSTOM_PREFIX,
    DATE,
    NUMBER,
    SELECT,
    SET,
    Checked,
    Kind,
    parse_instant,
)

ENGAGEMENT_PREFIX = "engagement."


@dataclass(frozen=True)
class Context:
    now: datetime
    groups_of: Callable[[str], frozenset[str]]  # a contact id -> the ids of its groups (as needed)


def matches(checked: Checked, contact: Mapping[str, Any], context: Context) -> bool:
    if contact.get("archivedAt"):
        return False  # archived: in no search, count or rule group until unarchived
    return _node(checked.node, checked, contact, context)


def _node(node: FilterNode, checked: Checked, contact: Mapping[str, Any], context: Context) -> bool:
    if isinstance(node, AllNode):
        return all(_node(child, checked, contact, context) for child in node.all)
    if isinstance(node, AnyNode):
        return any(_node(child, checked, contact, context) for child in node.any_)
    if isinstance(node, NotNode):
        return not _node(node.not_, checked, contact, context)
    if isinstance(node, FieldCondition):
        return _condition(node, checked.kinds[node.field], contact, context)
    return _engagement(node, contact, context)


def engagement_field(condition: EngagementCondition) -> str:
    """The date field holding the last time an engagement condition reads (`value_of`)."""
    suffix = f".{condition.campaign_id}" if condition.campaign_id else ""
    return f"{ENGAGEMENT_PREFIX}{condition.event}{suffix}"


def _engagement(condition: EngagementCondition, contact: Mapping[str, Any], context: Context) -> bool:
    moment = value_of(contact, engagement_field(condition), context)
    happened = moment is not None
    if happened and condition.within_last is not None:
        parsed = parse_instant(str(moment))
        since = context.now - timedelta(seconds=condition.within_last.seconds())
        happened = parsed is not None and since <= parsed
    return happened is not condition.negate


def value_of(contact: Mapping[str, Any], name: str, context: Context) -> Any:
    """The contact's value of a filter field (None when it has none); `engagement.<event>`
    and `engagement.<event>.<campaign id>` are the last times of engagement facts."""
    if name.startswith(ENGAGEMENT_PREFIX):
        event, _, campaign = name[len(ENGAGEMENT_PREFIX) :].partition(".")
        return last_time(contact, event, campaign or None)
    if name == "groups":
        return context.groups_of(str(contact.get("id")))
    if name.startswith(CUSTOM_PREFIX):
        custom = contact.get("customFields") or {}
        if not isinstance(custom, Mapping) and hasattr(custom, "as_dict"):
            custom = custom.as_dict()  # an item's MapAttribute (a stream image has a dict)
        return custom.get(name[len(CUSTOM_PREFIX) :]) if isinstance(custom, Mapping) else None
    return contact.get(name)


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != frozenset()


def _condition(condition: FieldCondition, kind: Kind, contact: Mapping[str, Any], context: Context) -> bool:
    op, wanted = condition.op, condition.value
    value = value_of(contact, condition.field, context)
    if op == "exists":
        return _present(value)
    if op == "notExists":
        return not _present(value)
    if kind.type == SET:
        have = set(value or ())
        wanted_set = {wanted} if op == "has" else set(wanted)
        if op in ("has", "hasAll"):
            return wanted_set <= have
        if op == "hasAny":
            return bool(wanted_set & have)
        return not (wanted_set & have)  # hasNone
    negative = op in ("ne", "notIn")
    if not _present(value):
        return negative
    if kind.type == NUMBER:
        return _number(op, _to_float(value), wanted)
    if kind.type == DATE:
        moment = parse_instant(str(value))
        return moment is not None and _date(op, moment, wanted, context.now)
    if kind.type == BOOLEAN:
        return bool(value) is wanted
    if kind.type == SELECT:
        return _equality(op, str(value), wanted, same=lambda a, b: a == b)
    return _text(op, str(value), wanted)


def _to_float(value: Any) -> float:
    return float(value) if isinstance(value, int | float | Decimal) else float("nan")


def _number(op: str, value: float, wanted: Any) -> bool:
    if op == "between":
        low, high = sorted(float(v) for v in wanted)
        return low <= value <= high
    if op in ("in",):
        return any(value == float(v) for v in wanted)
    target = float(wanted)
    return {
        "eq": value == target,
        "ne": value != target,
        "gt": value > target,
        "gte": value >= target,
        "lt": value < target,
        "lte": value <= target,
    }[op]


def _date(op: str, moment: datetime, wanted: Any, now: datetime) -> bool:
    if op in ("withinLast", "notWithinLast"):
        unit, amount = next(iter(wanted.items()))
        since = now - timedelta(**{unit: int(amount)})
        inside = since <= moment <= now
        return inside if op == "withinLast" else moment < since
    if op == "between":
        low, high = sorted(instant for instant in (parse_instant(str(v)) for v in wanted) if instant)
        return low <= moment <= high
    bound = parse_instant(str(wanted))
    if bound is None:
        return False
    return moment < bound if op == "before" else moment > bound


def _equality(op: str, value: str, wanted: Any, *, same: Callable[[str, str], bool]) -> bool:
    if op in ("in", "notIn"):
        found = any(same(value, str(v)) for v in wanted)
        return found if op == "in" else not found
    equal = same(value, str(wanted))
    return equal if op == "eq" else not equal


def _text(op: str, value: str, wanted: Any) -> bool:
    folded = fold(value)
    if op in ("eq", "ne", "in", "notIn"):
        return _equality(op, folded, wanted, same=lambda a, b: a == fold(b))
    target = fold(str(wanted))
    if op == "startsWith":
        return folded.startswith(target)
    if op == "endsWith":
        return folded.endswith(target)
    return target in folded  # contains
