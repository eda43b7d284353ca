"""The workspace's DYNAMIC rule groups as the stream evaluates them: one Query of their index
(`WS#<ws>#RULEGROUPS`), whatever their number and sizes. The custom fields they name are read
once a container: a field's definition never changes once made (there is no route to change
or delete one), so what was read stays true."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from chalicelib.contacts.service import read_items
from chalicelib.models.groups import RuleGroup
from chalicelib.schemas.filters import FilterNode
from chalicelib.segments import rules
from chalicelib.segments.crossing import is_time_relative

NODE: TypeAdapter[FilterNode] = TypeAdapter(FilterNode)
_DEFINITIONS: dict[tuple[str, str], Any] = {}  # field definitions read, by key
_MAX_DEFINITIONS = 10_000  # then forgotten all at once: a container's memory stays bounded


@dataclass(frozen=True)
class DynamicRule:
    group_id: str
    checked: rules.Checked
    timed: bool  # it has withinLast / notWithinLast conditions: timers keep it true


def parse(rules_json: str) -> FilterNode:
    return NODE.validate_python(json.loads(rules_json))


def dynamic_rules(workspace_id: str) -> list[DynamicRule]:
    found = [
        g
        for g in RuleGroup.query(RuleGroup.partition(workspace_id))
        if isinstance(g, RuleGroup) and g.groupType == "DYNAMIC"
    ]
    nodes = [parse(g.rules) for g in found]
    definitions = _definitions(rules.stored_keys(workspace_id, nodes))
    result = []
    for group, node in zip(found, nodes, strict=True):
        checked = rules.stored(workspace_id, node, definitions)
        result.append(DynamicRule(group.groupId, checked, is_time_relative(checked)))
    return result


def _definitions(wanted: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    missing = [key for key in wanted if key not in _DEFINITIONS]
    if missing:
        if len(_DEFINITIONS) > _MAX_DEFINITIONS:
            _DEFINITIONS.clear()
        _DEFINITIONS.update(read_items(missing))
    return {key: _DEFINITIONS[key] for key in wanted if key in _DEFINITIONS}
