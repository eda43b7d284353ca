"""Rule groups: groups whose members Cohort keeps by their filter (API.md "Segments").

- Creating one checks its rules and starts its **build**: the workspace's contacts, a page a
  message on the jobs queue, each evaluated; the matching ones join, the others leave; then
  the group is READY (the build is named on the group, so a newer build makes an older one
  stop).
- Afterwards, for a DYNAMIC rule group, every change of a contact (the table's stream) is
  evaluated against the workspace's rule groups (one Query of their index a batch): a contact
  that starts to match joins, one that stops matching leaves. A join is a membership INSERT,
  so a DYNAMIC rule group enrolls exactly as a manual DYNAMIC group does. What one change
  costs is bounded by the number of rule groups, never by their sizes: the change's images
  say whether it matched before and after; only a join or a leave writes.
- A STATIC rule group takes the contacts that match at creation and never changes by itself.

Not yet: rules naming groups (a loop of rule groups is then possible: refused, 422), rules
relative to now re-evaluated by a timer, engagement conditions (rules.check refuses them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter
from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError

from chalicelib.groups import memberships
from chalicelib.groups.snapshots import contact_values
from chalicelib.models import keys
from chalicelib.models.contacts import Contact
from chalicelib.models.groups import Group, Membership, RuleGroup
from chalicelib.platform import clock, config, queues
from chalicelib.platform.db import Item, is_conditional_failure
from chalicelib.platform.errors import ValidationFailed
from chalicelib.platform.logs import logger
from chalicelib.platform.streams import Batch, Change
from chalicelib.schemas.filters import FieldCondition, FilterNode
from chalicelib.segments import rules
from chalicelib.segments.evaluate import Context, matches

BUILD_KIND = "segments.build"
BUILD_PAGE = 200
_MEMO = "segments.ruleGroups"
_NODE: TypeAdapter[FilterNode] = TypeAdapter(FilterNode)


def checked_rules(workspace_id: str, node: FilterNode) -> str:
    """The rules as stored (JSON), once they passed rules.check (422 at `rules...`)."""
    checked = rules.check(workspace_id, node, path="rules")
    naming_groups = [
        c for c in rules.conditions(node) if isinstance(c, FieldCondition) and c.field == "groups"
    ]
    if naming_groups:
        raise ValidationFailed(
            "rules: a rule group's rules cannot name groups yet",
            [{"field": "rules", "message": "a rule group's rules cannot name groups yet"}],
        )
    return json.dumps(checked.node.model_dump(by_alias=True, mode="json", exclude_none=True))


def _checked(workspace_id: str, rules_json: str) -> rules.Checked:
    return rules.check(workspace_id, _NODE.validate_python(json.loads(rules_json)), path="rules")


def _context() -> Context:
    return Context(now=clock.now(), groups_of=lambda _contact_id: frozenset())


# ---- the build ----------------------------------------------------------------------------


def start_build(group: Group) -> None:
    _send(group.workspaceId, group.id, str(group.rulesBuild), None)


def _send(workspace_id: str, group_id: str, build: str, cursor: dict[str, Any] | None) -> None:
    message: dict[str, Any] = {
        "kind": BUILD_KIND,
        "workspaceId": workspace_id,
        "groupId": group_id,
        "build": build,
    }
    if cursor:
        message["cursor"] = cursor
    queues.send(config.jobs_queue_url(), [message])


def on_build_message(message: dict[str, Any], attempt: int = 1) -> None:
    """One page of a rule group's build; a page run twice writes nothing more (joins are
    conditional puts, leaves deletes)."""
    ws, group_id, build = str(message["workspaceId"]), str(message["groupId"]), str(message["build"])
    try:
        group = Group.get(*Group.key(ws, group_id), consistent_read=True)
    except DoesNotExist:
        return  # deleted meanwhile
    if group.rulesBuild != build or not group.rules:
        return  # a newer build took over
    checked = _checked(ws, group.rules)
    page = Item._get_connection().query(
        keys.workspace(ws),
        range_key_condition=Contact.sk.startswith("CONTACT#"),
        limit=BUILD_PAGE,
        exclusive_start_key=message.get("cursor"),
    )
    contacts = [Item.from_raw_data(raw) for raw in page.get("Items", [])]
    found = [c for c in contacts if isinstance(c, Contact)]
    context = _context()
    matching = {c.id: c for c in found if matches(checked, c.attribute_values, context)}
    present = (
        {
            m.contactId
            for m in Membership.batch_get(
                [Membership.key(ws, group_id, c.id) for c in found], consistent_read=True
            )
        }
        if found
        else set()
    )
    memberships.add_pairs(
        ws, [(group, contact_values(c)) for cid, c in matching.items() if cid not in present]
    )
    with Membership.batch_write() as batch:
        for contact_id in present - set(matching):
            batch.delete(Membership(*Membership.key(ws, group_id, contact_id)))
    last = page.get("LastEvaluatedKey")
    if last:
        _send(ws, group_id, build, last)
        return
    try:
        group.update([Group.membershipStatus.set("READY")], condition=Group.rulesBuild == build)
    except UpdateError as error:
        if not is_conditional_failure(error):
            raise
    logger.info("rule group built", extra={"group_id": group_id})


# ---- keeping DYNAMIC rule groups current --------------------------------------------------


def contact_changed(change: Change, batch: Batch) -> None:
    """A contact changed: join or leave the workspace's DYNAMIC rule groups it starts or stops
    matching (the record's old and new images say which)."""
    image = change.image
    ws, contact_id = image.get("workspaceId"), image.get("id")
    if not ws or not contact_id or change.event_name == "REMOVE":
        return  # a deleted contact's memberships go with it (chalicelib.groups.memberships)
    groups = _rule_groups(str(ws), batch)
    if not groups:
        return
    context = _context()
    for rule in groups:
        checked = _checked(str(ws), rule.rules)
        before = change.old is not None and matches(checked, change.old, context)
        after = change.new is not None and matches(checked, change.new, context)
        if after and not before:
            _join(str(ws), rule.groupId, change.new or {})
        elif before and not after:
            _leave(str(ws), rule.groupId, str(contact_id))


def _rule_groups(workspace_id: str, batch: Batch) -> list[RuleGroup]:
    """The workspace's DYNAMIC rule groups: one Query a batch."""
    memo: dict[str, list[RuleGroup]] = batch.data.setdefault(_MEMO, {})
    if workspace_id not in memo:
        found = RuleGroup.query(RuleGroup.partition(workspace_id))
        memo[workspace_id] = [g for g in found if isinstance(g, RuleGroup) and g.groupType == "DYNAMIC"]
    return memo[workspace_id]


def _join(workspace_id: str, group_id: str, contact: Mapping[str, Any]) -> None:
    try:
        group = Group.get(*Group.key(workspace_id, group_id))
    except DoesNotExist:
        return
    memberships.add_pairs(workspace_id, [(group, dict(contact))])


def _leave(workspace_id: str, group_id: str, contact_id: str) -> None:
    try:
        Membership(*Membership.key(workspace_id, group_id, contact_id)).delete(
            condition=Membership.pk.exists()
        )
    except DeleteError as error:
        if not is_conditional_failure(error):
            raise
