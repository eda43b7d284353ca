"""The workspace's DYNAMIC rule groups as the stream evaluates them: one Query of their index
(`WS#<ws>#RULEGROUPS`) and one BatchGetItem of the custom fields they name (none when they
name none), whatever their number and sizes."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import TypeAdapter

from chalicelib.contacts.service import read_items
from chalicelib.models.groups import RuleGroup
from chalicelib.schemas.filters import FilterNode
from chalicelib.segments import rules
from chalicelib.segments.crossing import is_time_relative

NODE: TypeAdapter[FilterNode] = TypeAdapter(FilterNode)


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
    definitions = read_items(rules.stored_keys(workspace_id, nodes))
    result = []
    for group, node in zip(found, nodes, strict=True):
        checked = rules.stored(workspace_id, node, definitions)
        result.append(DynamicRule(group.groupId, checked, is_time_relative(checked)))
    return result
