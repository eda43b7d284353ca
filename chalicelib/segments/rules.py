"""What a filter may say, checked against the workspace before anything reads or writes:
each field known (custom fields by their declared type), each operator fitting the field's
type, each value fitting the operator, group and campaign ids the workspace's, at most 50
conditions and 10 levels. Every problem is reported at once, each at its node's path
(`filter.all[1].any[0].op`), as one 422.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.contacts.fields import keys_for
from chalicelib.contacts.service import read_items
from chalicelib.models.campaigns import Campaign
from chalicelib.models.fields import FieldDefinition
from chalicelib.models.groups import Group
from chalicelib.platform.errors import ValidationFailed
from chalicelib.schemas.contacts import ContactStatus, PipelineStage
from chalicelib.schemas.filters import (
    MAX_SPAN,
    AllNode,
    AnyNode,
    EngagementCondition,
    FieldCondition,
    FilterNode,
    NotNode,
)

MAX_CONDITIONS = 50
MAX_DEPTH = 10
MAX_LIST = 100  # values of an `in`, `hasAny`... list
CUSTOM_PREFIX = "customFields."

TEXT, NUMBER, DATE, BOOLEAN, SELECT, SET = "text", "number", "date", "boolean", "select", "set"
OPERATORS: dict[str, frozenset[str]] = {
    TEXT: frozenset({"eq", "ne", "in", "notIn", "startsWith", "endsWith", "contains", "exists", "notExists"}),
    NUMBER: frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "exists", "notExists"}),
    DATE: frozenset({"before", "after", "between", "withinLast", "notWithinLast", "exists", "notExists"}),
    BOOLEAN: frozenset({"eq"}),
    SELECT: frozenset({"eq", "ne", "in", "notIn"}),
    SET: frozenset({"has", "hasAny", "hasAll", "hasNone"}),
}
# Custom field types (chalicelib.contacts.fields) as filter types.
_CUSTOM_TYPES = {
    "text": TEXT,
    "url": TEXT,
    "number": NUMBER,
    "date": DATE,
    "boolean": BOOLEAN,
    "select": SELECT,
}


@dataclass(frozen=True)
class Kind:
    type: str
    options: tuple[str, ...] | None = None  # a select's values


BUILTIN: dict[str, Kind] = {
    **{
        name: Kind(TEXT) for name in ("email", "phone", "firstName", "lastName", "company", "title", "source")
    },
    "status": Kind(SELECT, tuple(s.value for s in ContactStatus)),
    "pipelineStage": Kind(SELECT, tuple(s.value for s in PipelineStage)),
    "createdAt": Kind(DATE),
    "updatedAt": Kind(DATE),
    "score": Kind(NUMBER),
    "tags": Kind(SET),
    "groups": Kind(SET),
}


@dataclass(frozen=True)
class Checked:
    """A filter that passed, with what evaluating it needs."""

    node: FilterNode
    kinds: dict[str, Kind]  # every field it names
    group_ids: frozenset[str]  # the groups its `groups` conditions name
    engagement: bool = False  # it has engagement conditions (they read the Contact item itself)


@dataclass
class _Walk:
    conditions: list[tuple[str, FieldCondition | EngagementCondition]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)

    def problem(self, path: str, message: str) -> None:
        self.problems.append({"field": path, "message": message})


def check(workspace_id: str, node: FilterNode, path: str = "filter") -> Checked:
    """The filter, checked; 422 naming every problem's path, before any read of contacts."""
    walk = _Walk()
    _visit(node, path, 1, walk)
    if len(walk.conditions) > MAX_CONDITIONS:
        walk.problem(path, f"a filter has at most {MAX_CONDITIONS} conditions ({len(walk.conditions)} given)")
    kinds, group_ids, campaign_ids = _resolve(workspace_id, walk)
    for where, condition in walk.conditions:
        if isinstance(condition, FieldCondition):
            kind = kinds.get(condition.field)
            if kind is not None:
                _check_condition(condition, kind, where, walk)
        else:
            _check_engagement(condition, where, campaign_ids, walk)
    _check_ids(walk, group_ids)
    if walk.problems:
        first = walk.problems[0]
        raise ValidationFailed(f"{first['field']}: {first['message']}", walk.problems)
    named_groups = {
        str(v)
        for _, c in walk.conditions
        if isinstance(c, FieldCondition) and c.field == "groups"
        for v in _as_list(c.value)
    }
    engaged = any(isinstance(c, EngagementCondition) for _, c in walk.conditions)
    return Checked(node=node, kinds=kinds, group_ids=frozenset(named_groups), engagement=engaged)


def _visit(node: FilterNode, path: str, depth: int, walk: _Walk) -> None:
    if depth > MAX_DEPTH:
        walk.problem(path, f"a filter nests at most {MAX_DEPTH} levels")
        return
    if isinstance(node, AllNode):
        for index, child in enumerate(node.all):
            _visit(child, f"{path}.all[{index}]", depth + 1, walk)
    elif isinstance(node, AnyNode):
        for index, child in enumerate(node.any_):
            _visit(child, f"{path}.any[{index}]", depth + 1, walk)
    elif isinstance(node, NotNode):
        _visit(node.not_, f"{path}.not", depth + 1, walk)
    else:
        walk.conditions.append((path, node))


def _resolve(workspace_id: str, walk: _Walk) -> tuple[dict[str, Kind], set[str], set[str]]:
    """The kinds of the fields named, and which of the named groups and campaigns exist in
    the workspace: one BatchGetItem for all of it."""
    custom = {
        c.field[len(CUSTOM_PREFIX) :]
        for _, c in walk.conditions
        if isinstance(c, FieldCondition) and c.field.startswith(CUSTOM_PREFIX)
    }
    groups = {
        str(v)
        for _, c in walk.conditions
        if isinstance(c, FieldCondition) and c.field == "groups"
        for v in _as_list(c.value)
        if isinstance(v, str)
    }
    campaigns = {
        c.campaign_id for _, c in walk.conditions if isinstance(c, EngagementCondition) and c.campaign_id
    }
    wanted = [
        *keys_for(workspace_id, [key for key in custom if key]),
        *(Group.key(workspace_id, gid) for gid in groups),
        *(Campaign.key(workspace_id, cid) for cid in campaigns),
    ]
    found = read_items(wanted) if wanted else {}
    kinds: dict[str, Kind] = {}
    for where, condition in walk.conditions:
        if not isinstance(condition, FieldCondition):
            continue
        name = condition.field
        if name in BUILTIN:
            kinds[name] = BUILTIN[name]
        elif name.startswith(CUSTOM_PREFIX):
            if (kind := _custom_kind(workspace_id, name, found)) is not None:
                kinds[name] = kind
            else:
                walk.problem(f"{where}.field", f"unknown custom field {name[len(CUSTOM_PREFIX) :]!r}")
        else:
            walk.problem(
                f"{where}.field",
                f"unknown field {name!r}: use a contact field, customFields.<key>, tags or groups",
            )
    found_groups = {gid for gid in groups if Group.key(workspace_id, gid) in found}
    found_campaigns = {cid for cid in campaigns if Campaign.key(workspace_id, cid) in found}
    return kinds, found_groups, found_campaigns


def _check_ids(walk: _Walk, existing_groups: set[str]) -> None:
    for where, condition in walk.conditions:
        if isinstance(condition, FieldCondition) and condition.field == "groups":
            unknown = [
                v for v in _as_list(condition.value) if isinstance(v, str) and v not in existing_groups
            ]
            if unknown:
                walk.problem(f"{where}.value", f"unknown group id(s): {', '.join(sorted(unknown)[:10])}")


def _check_engagement(condition: EngagementCondition, where: str, campaigns: set[str], walk: _Walk) -> None:
    if condition.campaign_id and condition.campaign_id not in campaigns:
        walk.problem(f"{where}.campaignId", f"unknown campaign id {condition.campaign_id!r}")
    if condition.within_last is not None and condition.within_last.days is None:
        walk.problem(f"{where}.withinLast", 'an engagement condition\'s withinLast takes {"days": n}')


def _check_condition(condition: FieldCondition, kind: Kind, where: str, walk: _Walk) -> None:
    op, value = condition.op, condition.value
    if op not in OPERATORS[kind.type]:
        allowed = ", ".join(sorted(OPERATORS[kind.type]))
        walk.problem(
            f"{where}.op", f"{op!r} does not fit a {kind.type} field ({condition.field}): use {allowed}"
        )
        return
    problem = _value_problem(kind, op, value)
    if problem:
        walk.problem(f"{where}.value", problem)


def _value_problem(kind: Kind, op: str, value: Any) -> str | None:
    if op in ("exists", "notExists"):
        return None if value is None else f"{op} takes no value"
    if kind.type == SET:
        if op == "has":
            return None if _is_text(value) else "has takes one value (a string)"
        return _list_problem(value, _is_text, "strings")
    if op in ("in", "notIn"):
        element = _is_number if kind.type == NUMBER else _is_text
        problem = _list_problem(value, element, "numbers" if kind.type == NUMBER else "strings")
        if problem is None and kind.options is not None:
            return _options_problem(value, kind.options)
        return problem
    if op == "between":
        element = _is_number if kind.type == NUMBER else _is_date
        if not (isinstance(value, list) and len(value) == 2 and all(element(v) for v in value)):
            what = "numbers" if kind.type == NUMBER else "dates (YYYY-MM-DD or ISO 8601 date-times)"
            return f"between takes two bounds, [from, to], both {what}"
        return None
    if op in ("withinLast", "notWithinLast"):
        if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("days", "hours")):
            return f'{op} takes {{"days": n}} or {{"hours": n}}'
        unit, amount = next(iter(value.items()))
        return (
            None
            if _is_number(amount) and int(amount) == amount and 1 <= amount <= MAX_SPAN[unit]
            else f"{op} takes a whole number from 1 to {MAX_SPAN[unit]} {unit}"
        )
    if kind.type == NUMBER:
        return None if _is_number(value) else f"{op} takes a number"
    if kind.type == DATE:
        return None if _is_date(value) else f"{op} takes a date (YYYY-MM-DD or an ISO 8601 date-time)"
    if kind.type == BOOLEAN:
        return None if isinstance(value, bool) else "eq takes true or false"
    if not _is_text(value):
        return f"{op} takes a string"
    if kind.type == SELECT and kind.options is not None:
        return _options_problem([value], kind.options)
    return None


def _list_problem(value: Any, element: Any, what: str) -> str | None:
    if not isinstance(value, list) or not value or len(value) > MAX_LIST:
        return f"takes a list of 1 to {MAX_LIST} {what}"
    return None if all(element(v) for v in value) else f"takes a list of {what}"


def _options_problem(values: list[Any], options: tuple[str, ...]) -> str | None:
    unknown = [v for v in values if v not in options]
    return (
        f"not an option: {', '.join(map(str, unknown[:5]))} (options: {', '.join(options)})"
        if unknown
        else None
    )


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 1000


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e15


def _is_date(value: Any) -> bool:
    return isinstance(value, str) and parse_instant(value) is not None


def parse_instant(text: str) -> datetime | None:
    """A date (midnight UTC) or an ISO 8601 date-time (UTC when it names no offset)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def conditions(node: FilterNode) -> Iterator[FieldCondition | EngagementCondition]:
    """Every leaf of the tree."""
    if isinstance(node, AllNode):
        for child in node.all:
            yield from conditions(child)
    elif isinstance(node, AnyNode):
        for child in node.any_:
            yield from conditions(child)
    elif isinstance(node, NotNode):
        yield from conditions(node.not_)
    else:
        yield node


# ---- rules checked when they were stored (a rule group's) ----------------------------------


def stored_keys(workspace_id: str, nodes: Iterable[FilterNode]) -> list[tuple[str, str]]:
    """What `stored` needs read: the definitions of the custom fields the filters name, to be
    read in the caller's BatchGetItem (with whatever else it reads)."""
    custom = {
        c.field[len(CUSTOM_PREFIX) :]
        for node in nodes
        for c in conditions(node)
        if isinstance(c, FieldCondition) and c.field.startswith(CUSTOM_PREFIX)
    }
    return keys_for(workspace_id, [key for key in custom if key])


def stored(workspace_id: str, node: FilterNode, found: Mapping[tuple[str, str], Any]) -> Checked:
    """Rules that passed `check` when they were stored, ready to evaluate again without reads
    of their own (`found`: the items of `stored_keys`). Nothing is refused here: a stream or a
    timer must not fail on rules the client was already told are fine. A custom field deleted
    since counts as text (its values went with it, so its conditions see none)."""
    kinds: dict[str, Kind] = {}
    group_ids: set[str] = set()
    for condition in conditions(node):
        if not isinstance(condition, FieldCondition):
            continue
        name = condition.field
        if name in BUILTIN:
            kinds[name] = BUILTIN[name]
        elif name.startswith(CUSTOM_PREFIX):
            kinds[name] = _custom_kind(workspace_id, name, found) or Kind(TEXT)
        if name == "groups":
            group_ids.update(str(v) for v in _as_list(condition.value))
    return Checked(node=node, kinds=kinds, group_ids=frozenset(group_ids))


def _custom_kind(workspace_id: str, name: str, found: Mapping[tuple[str, str], Any]) -> Kind | None:
    """The kind of `customFields.<key>` from its definition among `found`; None without one."""
    definition = found.get(FieldDefinition.key(workspace_id, name[len(CUSTOM_PREFIX) :]))
    if not isinstance(definition, FieldDefinition):
        return None
    return Kind(_CUSTOM_TYPES.get(definition.fieldType, TEXT), tuple(definition.options or ()) or None)


def named_groups(node: FilterNode) -> frozenset[str]:
    """The group ids a filter's `groups` conditions name (no read)."""
    return frozenset(
        str(v)
        for c in conditions(node)
        if isinstance(c, FieldCondition) and c.field == "groups"
        for v in _as_list(c.value)
    )
