"""Rule groups whose rules name groups: refused when a group's rules would reach the group
itself through the rules of the groups they name (directly included), since each join would
then make the next one for ever. One Query of the workspace's rule groups answers it."""

from __future__ import annotations

import json

from pydantic import TypeAdapter

from chalicelib.models.groups import RuleGroup
from chalicelib.platform.errors import ValidationFailed
from chalicelib.schemas.filters import AllNode, AnyNode, FieldCondition, FilterNode, NotNode
from chalicelib.segments import rules

_NODE: TypeAdapter[FilterNode] = TypeAdapter(FilterNode)


def named_by_rule_groups(workspace_id: str) -> dict[str, frozenset[str]]:
    """Each rule group of the workspace -> the groups its rules name (one Query)."""
    return {
        item.groupId: rules.named_groups(_NODE.validate_python(json.loads(item.rules)))
        for item in RuleGroup.query(RuleGroup.partition(workspace_id))
        if isinstance(item, RuleGroup)
    }


def refuse_loop(workspace_id: str, group_id: str | None, node: FilterNode, path: str = "rules") -> None:
    """422 naming the loop (`G → A → B → G`) when the rules `node` of group `group_id` reach
    it again. A group being created (`group_id` None) cannot: no rules name it yet."""
    named = rules.named_groups(node)
    if group_id is None or not named:
        return
    graph = dict(named_by_rule_groups(workspace_id))
    graph[group_id] = named
    for where, first in _naming(node, path):
        loop = _path_back(graph, first, group_id)
        if loop is not None:
            shown = " → ".join([group_id, *loop])
            raise ValidationFailed(
                f"{where}: a loop of rule groups: {shown}",
                [{"field": where, "message": f"a loop of rule groups: {shown}", "loop": [group_id, *loop]}],
            )


def _path_back(graph: dict[str, frozenset[str]], start: str, target: str) -> list[str] | None:
    """The groups from `start` to `target` following what each one's rules name, if any."""
    trail: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for here in frontier:
            if here == target:
                steps = [here]
                while (previous := trail[steps[-1]]) is not None:
                    steps.append(previous)
                return steps[::-1]
            for there in sorted(graph.get(here, ())):
                if there not in trail:
                    trail[there] = here
                    following.append(there)
        frontier = following
    return None


def _naming(node: FilterNode, path: str) -> list[tuple[str, str]]:
    """(path of the value, group id) for each group the tree's `groups` conditions name."""
    if isinstance(node, AllNode):
        return [n for i, child in enumerate(node.all) for n in _naming(child, f"{path}.all[{i}]")]
    if isinstance(node, AnyNode):
        return [n for i, child in enumerate(node.any_) for n in _naming(child, f"{path}.any[{i}]")]
    if isinstance(node, NotNode):
        return _naming(node.not_, f"{path}.not")
    if isinstance(node, FieldCondition) and node.field == "groups":
        values = node.value if isinstance(node.value, list) else [node.value]
        return [(f"{path}.value", str(v)) for v in values]
    return []
