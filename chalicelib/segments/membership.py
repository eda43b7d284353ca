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
- Rules relative to now (`withinLast`, `notWithinLast`) are kept true by timers: each
  evaluation of a contact against a DYNAMIC rule group times its next crossing
  (chalicelib.segments.recheck).
- Rules may name groups (`groups has ...`): a contact joining or leaving a group (a membership
  INSERT or REMOVE) re-evaluates the DYNAMIC rule groups whose rules name it, for that
  contact; a loop of rule groups is refused (chalicelib.segments.loops).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.contacts.service import read_items
from chalicelib.groups import memberships
from chalicelib.groups.snapshots import contact_values, new_membership
from chalicelib.models import keys
from chalicelib.models.contacts import Contact
from chalicelib.models.groups import Group, Membership
from chalicelib.platform import clock, config, queues
from chalicelib.platform.db import Item, is_conditional_failure
from chalicelib.platform.logs import logger
from chalicelib.platform.streams import Batch, Change
from chalicelib.schemas.filters import FilterNode
from chalicelib.segments import joins, loops, rules
from chalicelib.segments.crossing import is_time_relative, next_crossing
from chalicelib.segments.evaluate import Context, matches
from chalicelib.segments.recheck import due_for
from chalicelib.segments.rule_index import DynamicRule, dynamic_rules, parse
from chalicelib.timers import due

BUILD_KIND = "segments.build"
BUILD_PAGE = 200
_MEMO = "segments.ruleGroups"


def checked_rules(
    workspace_id: str, node: FilterNode, group_id: str | None = None
) -> tuple[str, loops.Reached]:
    """The rules as stored (JSON), once they passed rules.check and, naming groups, reach no
    loop of rule groups back to `group_id` (422 at `rules...`); with the groups they reach as
    read, for the change's transaction to check they did not change meanwhile."""
    checked = rules.check(workspace_id, node, path="rules")
    reached = loops.refuse_loop(workspace_id, group_id, checked.node)
    return json.dumps(checked.node.model_dump(by_alias=True, mode="json", exclude_none=True)), reached


def _checked(workspace_id: str, rules_json: str) -> rules.Checked:
    return rules.check(workspace_id, parse(rules_json), path="rules")


def _context(now: datetime, groups: frozenset[str] = frozenset()) -> Context:
    """`groups`: the contact's groups among those the rules name (read by the caller)."""
    return Context(now=now, groups_of=lambda _contact_id: groups)


# ---- the build ----------------------------------------------------------------------------


def start_build(group: Group, first: bool = False) -> None:
    """`first`: the group was just created, so it has no members for the build to read."""
    _send(group.workspaceId, group.id, str(group.rulesBuild), None, first)


def _send(workspace_id: str, group_id: str, build: str, cursor: dict[str, Any] | None, first: bool) -> None:
    message: dict[str, Any] = {
        "kind": BUILD_KIND,
        "workspaceId": workspace_id,
        "groupId": group_id,
        "build": build,
    }
    if cursor:
        message["cursor"] = cursor
    if first:
        message["first"] = True
    queues.send(config.jobs_queue_url(), [message])


def on_build_message(message: dict[str, Any], attempt: int = 1) -> None:
    """One page of a rule group's build; a page run twice writes nothing more (joins are
    conditional puts, leaves deletes). A DYNAMIC group's time-relative rules get each
    contact's next crossing timed (one timer a contact, keyed by its crossing)."""
    ws, group_id, build = str(message["workspaceId"]), str(message["groupId"]), str(message["build"])
    first = bool(message.get("first"))
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
    # One BatchGetItem: the page's memberships of this group (none to read in a new group's
    # first build: a contact the stream joined meanwhile makes its conditional put a no-op)
    # and of the groups its rules name.
    involved = sorted(checked.group_ids | (set() if first else {group_id}))
    in_groups: dict[str, set[str]] = {}
    if found and involved:
        wanted = [Membership.key(ws, g, c.id) for c in found for g in involved]
        for m in Membership.batch_get(wanted, consistent_read=True):
            in_groups.setdefault(m.contactId, set()).add(m.groupId)
    now = clock.now()
    matching: dict[str, Contact] = {}
    timers: list[due.Due] = []
    timed = group.groupType == "DYNAMIC" and is_time_relative(checked)
    for contact in found:
        context = _context(now, frozenset(in_groups.get(contact.id, ())))
        if matches(checked, contact.attribute_values, context):
            matching[contact.id] = contact
        crossing = next_crossing(checked, contact.attribute_values, context) if timed else None
        if crossing is not None:
            timers.append(due_for(ws, group_id, contact.id, crossing, now))
    present = {cid for cid, groups in in_groups.items() if group_id in groups}
    joined_at = clock.iso(now)
    memberships.put_new_memberships(
        [
            new_membership(ws, group, contact_values(c), joined_at)
            for cid, c in matching.items()
            if cid not in present
        ]
    )
    if present - set(matching):
        with Membership.batch_write() as batch:
            for contact_id in present - set(matching):
                batch.delete(Membership(*Membership.key(ws, group_id, contact_id)))
    if timers:
        due.schedule(timers, now)
    last = page.get("LastEvaluatedKey")
    if last:
        _send(ws, group_id, build, last, first)
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
    matching (the record's old and new images say which), and time the next crossing of the
    time-relative ones when the change moved it."""
    image = change.image
    ws, contact_id = image.get("workspaceId"), image.get("id")
    if not ws or not contact_id or change.event_name == "REMOVE":
        return  # a deleted contact's memberships go with it (chalicelib.groups.memberships)
    ws, contact_id = str(ws), str(contact_id)
    found = _rules(ws, batch)
    if not found:
        return
    # Group conditions: the contact's groups now (a membership is no part of the contact's
    # images: its own INSERT / REMOVE re-evaluates, in membership_changed).
    named = frozenset().union(*(r.checked.group_ids for r in found))
    in_groups = _groups_of(ws, contact_id, named)
    now = clock.now()
    context = _context(now, in_groups)
    timers: list[due.Due] = []
    for rule in found:
        before = change.old is not None and matches(rule.checked, change.old, context)
        after = change.new is not None and matches(rule.checked, change.new, context)
        if after and not before:
            _join(ws, rule.group_id, change.new or {})
        elif before and not after:
            joins.leave(ws, rule.group_id, contact_id)
        if rule.timed and change.new is not None:
            crossing = next_crossing(rule.checked, change.new, context)
            timed_before = next_crossing(rule.checked, change.old, context) if change.old else None
            if crossing is not None and crossing != timed_before:
                timers.append(due_for(ws, rule.group_id, contact_id, crossing, now))
    if timers:
        due.schedule(timers, now)


def membership_changed(change: Change, batch: Batch) -> None:
    """A contact joined or left a group: the DYNAMIC rule groups whose rules name that group
    are evaluated again for that contact (one BatchGetItem of the contact and its memberships
    of the groups involved), a join or a leave written only where the membership is not what
    the rules say. At most one evaluation per rule group of the workspace; a join or a leave
    here is a membership change in its turn, and no loop of rule groups exists to repeat it."""
    if change.event_name not in ("INSERT", "REMOVE"):
        return  # a snapshot refresh
    image = change.image
    ws, group_id, contact_id = image.get("workspaceId"), image.get("groupId"), image.get("contactId")
    if not ws or not group_id or not contact_id:
        return
    ws, group_id, contact_id = str(ws), str(group_id), str(contact_id)
    naming = [r for r in _rules(ws, batch) if group_id in r.checked.group_ids]
    if not naming:
        return
    involved = frozenset().union(*(r.checked.group_ids | {r.group_id} for r in naming))
    found = read_items(
        [
            Contact.key(ws, contact_id),
            *(Membership.key(ws, g, contact_id) for g in sorted(involved)),
            *(Group.key(ws, r.group_id) for r in naming),
        ]
    )
    contact = found.get(Contact.key(ws, contact_id))
    if not isinstance(contact, Contact):
        return  # deleted: its memberships go with it
    in_groups = frozenset(item.groupId for item in found.values() if isinstance(item, Membership))
    context = _context(clock.now(), in_groups)
    for rule in naming:
        match = matches(rule.checked, contact.attribute_values, context)
        group = found.get(Group.key(ws, rule.group_id))
        if match and rule.group_id not in in_groups and isinstance(group, Group):
            joins.join(ws, group, contact_values(contact))
        elif not match and rule.group_id in in_groups:
            joins.leave(ws, rule.group_id, contact_id)


def _rules(workspace_id: str, batch: Batch) -> list[DynamicRule]:
    """The workspace's DYNAMIC rule groups, ready to evaluate: read once a batch."""
    memo: dict[str, list[DynamicRule]] = batch.data.setdefault(_MEMO, {})
    if workspace_id not in memo:
        memo[workspace_id] = dynamic_rules(workspace_id)
    return memo[workspace_id]


def _groups_of(workspace_id: str, contact_id: str, named: frozenset[str]) -> frozenset[str]:
    """Which of the `named` groups the contact is in: one BatchGetItem (none when none named)."""
    if not named:
        return frozenset()
    keys_ = [Membership.key(workspace_id, g, contact_id) for g in sorted(named)]
    return frozenset(m.groupId for m in Membership.batch_get(keys_, consistent_read=True))


def _join(workspace_id: str, group_id: str, contact: dict[str, Any]) -> None:
    try:
        group = Group.get(*Group.key(workspace_id, group_id))
    except DoesNotExist:
        return
    joins.join(workspace_id, group, contact)
