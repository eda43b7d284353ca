"""Rule groups whose rules name groups: refused when a group's rules would reach the group
itself through the rules of the groups they name (directly included), since each join would
then make the next one for ever. One Query of the workspace's rule groups answers it.

Two changes of rules at once could each pass and close a loop between them (A names B while
B is changed to name A): the groups a change's rules reach are returned with their rules as
read, and the change's transaction checks they are still so (chalicelib.groups.service.update),
else 409."""

from __future__ import annotations

import json

from pydantic import TypeAdapter

from chalicelib.models.groups import RuleGroup
from chalicelib.platform.errors import ValidationFailed
from chalicelib.schemas.filters import AllNode, AnyNode, FieldCondition, FilterNode, NotNode
from chalicelib.segments import rules

MAX_CHECKED = 90
_NODE: TypeAdapter[FilterNode] = TypeAdapter(FilterNode)


# (group id, its rules as stored, None for a group without rules): what a change relied on.
Reached = tuple[tuple[str, str | None], ...]


def refuse_loop(workspace_id: str, group_id: str | None, node: FilterNode, path: str = "rules") -> Reached:
    """422 naming the loop (`G → A → B → G`) when the rules `node` of group `group_id` reach
    it again; else the groups they reach, as read. A group being created (`group_id` None)
    cannot be in a loop: no rules name it yet."""
    named = rules.named_groups(node)
    if group_id is None or not named:
        return ()
    stored = {
        item.groupId: item.rules
        for item in RuleGroup.query(RuleGroup.partition(workspace_id))
        if isinstance(item, RuleGroup)
    }
    graph = {gid: rules.named_groups(_NODE.validate_python(json.loads(text))) for gid, text in stored.items()}
    graph[group_id] = named
    for where, first in _naming(node, path):
        loop = _path_back(graph, first, group_id)
        if loop is not None:
            shown = " → ".join([group_id, *loop])
            raise ValidationFailed(
                f"{where}: a loop of rule groups: {shown}",
                [{"field": where, "message": f"a loop of rule groups: {shown}", "loop": [group_id, *loop]}],
            )
    reached = [(gid, stored.get(gid)) for gid in sorted(_reachable(graph, named)) if gid != group_id]
    # A transaction holds 100 actions: the change's own writes and at most this many checks.
    return tuple(reached[:MAX_CHECKED])


def _reachable(graph: dict[str, frozenset[str]], start: frozenset[str]) -> set[str]:
    seen, frontier = set(start), list(start)
    while frontier:
        for there in graph.get(frontier.pop(), ()):
            if there not in seen:
                seen.add(there)
                frontier.append(there)
    return seen


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
