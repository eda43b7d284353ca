"""Rule groups kept true as time passes: `withinLast` / `notWithinLast` change with no change
of the contact, so whenever a contact is evaluated against a DYNAMIC rule group with such
conditions (its build, the stream), the next moment its result can change by time alone
(chalicelib.segments.crossing) gets a timer (chalicelib.timers.due) for that contact and
group. When it fires, the contact and the group are read again, the contact evaluated, a
join or a leave written only if its membership is not what the rules say now, and the next
crossing timed. No sweep over the contacts, ever.

The timer's key is the group, the contact and the crossing: timing the same crossing again is
one timer. A timer delivered twice, or gone stale (the rules or the contact changed since),
compares the rules of now with the membership of now: it writes nothing, or what is right.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.contacts.service import read_items
from chalicelib.groups.snapshots import contact_values
from chalicelib.models.contacts import Contact
from chalicelib.models.groups import Group, Membership
from chalicelib.platform import clock
from chalicelib.platform.logs import logger
from chalicelib.segments import joins, rules
from chalicelib.segments.crossing import next_crossing
from chalicelib.segments.evaluate import Context, matches
from chalicelib.segments.rule_index import parse
from chalicelib.timers import due

RECHECK_KIND = "segments.recheck"


def due_for(workspace_id: str, group_id: str, contact_id: str, crossing: datetime, now: datetime) -> due.Due:
    at = clock.iso(crossing)
    return due.Due(
        queue=due.JOBS,
        key=f"RULES#{workspace_id}#{group_id}#{contact_id}#{at}",
        spread=contact_id,
        message={
            "kind": RECHECK_KIND,
            "workspaceId": workspace_id,
            "groupId": group_id,
            "contactId": contact_id,
            "at": at,
        },
        wait=max(0, math.ceil((crossing - now).total_seconds())),
    )


def on_recheck_message(message: dict[str, Any], attempt: int = 1) -> None:
    """A contact's crossing for a rule group: a GetItem of the group, one BatchGetItem of the
    contact, its memberships of the groups involved and the custom fields named; then a join
    or a leave only if needed, and the next crossing's timer."""
    ws, group_id, contact_id = (str(message[k]) for k in ("workspaceId", "groupId", "contactId"))
    try:
        group = Group.get(*Group.key(ws, group_id), consistent_read=True)
    except DoesNotExist:
        return  # deleted since
    if not group.rules or group.groupType != "DYNAMIC":
        return  # no longer kept by rules, or STATIC: nothing moves by itself
    node = parse(group.rules)
    involved = rules.named_groups(node) | {group_id}
    found = read_items(
        [
            Contact.key(ws, contact_id),
            *(Membership.key(ws, g, contact_id) for g in sorted(involved)),
            *rules.stored_keys(ws, [node]),
        ]
    )
    contact = found.get(Contact.key(ws, contact_id))
    if not isinstance(contact, Contact):
        return  # deleted since: its memberships go with it
    in_groups = frozenset(item.groupId for item in found.values() if isinstance(item, Membership))
    now = clock.now()
    context = Context(now=now, groups_of=lambda _contact_id: in_groups)
    checked = rules.stored(ws, node, found)
    values = contact.attribute_values
    match, member = matches(checked, values, context), group_id in in_groups
    if match and not member:
        joins.join(ws, group, contact_values(contact))
        logger.info("rule group joined on time", extra={"group_id": group_id, "contact_id": contact_id})
    elif member and not match:
        joins.leave(ws, group_id, contact_id)
        logger.info("rule group left on time", extra={"group_id": group_id, "contact_id": contact_id})
    crossing = next_crossing(checked, values, context)
    if crossing is not None:
        due.schedule([due_for(ws, group_id, contact_id, crossing, now)], now)
