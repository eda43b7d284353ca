"""Searching and counting contacts by a filter, never a Scan.

A page is one Query on the partition that serves the filter's most selective top-level
condition (the conditions of a top-level `all`, or the filter itself when it is one):

| condition | partition read | requests per page |
|---|---|---|
| `groups has G` | the group's members, then their contacts (BatchGetItem) | 2 |
| `tags has T` | the tag's links (whole copies of the contacts) | 1 |
| `status eq S` | gsi1 `WS#<ws>#CSTATUS#<S>` | 1 |
| `pipelineStage eq P` | gsi2 `WS#<ws>#CSTAGE#<P>` | 1 |
| `email`/`firstName`/`lastName` `startsWith` | the search tokens | 1 |
| anything else | the contacts list, gsi4 `WS#<ws>#CLIST` | 1 |

Archived contacts are in none of these partitions but the group's members (their keys leave
them, see models/contacts.py); the evaluator drops them there.

Every item read is then run through the one evaluator (chalicelib.segments.evaluate); a
filter naming groups other than the partition's costs one more BatchGetItem of the
memberships a page needs. Engagement conditions and the score read the Contact item only
(the facts are never on its copies; an award moves the score on the Contact item alone): on a
tag's or the search tokens' partition they cost one more BatchGetItem of the page's contacts;
elsewhere nothing more. A page reads at most READ_LIMIT
items (and DynamoDB stops a Query at 1 MB): it may hold fewer than `limit` contacts while its
cursor is set; `scanned` says how many it read.

A count is exact from a counter written in the contacts' own transactions (`tags has T`: the
tag's count). A group's member count follows the stream, a moment behind, so it is not used.
Otherwise a count reads pages up to COUNT_READ_LIMIT items, exact when it got to the end, and
a lower bound (`exact: false`) when not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.contacts import service as contacts
from chalicelib.contacts.identity import fold, search_tokens
from chalicelib.models import keys
from chalicelib.models.contacts import Contact, ContactData, ContactSearch, ContactTag, TagCount
from chalicelib.models.groups import Membership
from chalicelib.platform import clock, pagination
from chalicelib.platform.db import Item
from chalicelib.schemas.filters import AllNode, FieldCondition, FilterNode
from chalicelib.segments.evaluate import Context, matches
from chalicelib.segments.rules import Checked, conditions

READ_LIMIT = 200  # items a page reads at most (plus DynamoDB's own 1 MB)
COUNT_READ_LIMIT = 20_000  # items a count reads at most before it says `exact: false`
_ID_LENGTH = 26
_TOKEN_FIELDS = ("email", "firstName", "lastName")


@dataclass(frozen=True)
class Plan:
    """The partition a filter's pages read."""

    hash_key: str
    range_condition: Condition | None = None
    index: str | None = None
    forward: bool = False
    members: bool = False  # the group's members: their contacts are read after
    prefix: str | None = None  # search tokens: keep a contact under its first matching token
    copies: bool = False  # the items read are copies of the contacts (no engagement facts)


@dataclass(frozen=True)
class Result:
    items: list[ContactData]
    last_key: dict[str, Any] | None
    scanned: int


def plan(workspace_id: str, node: FilterNode) -> Plan:
    """The partition of the most selective top-level condition."""
    leaves = [c for c in (node.all if isinstance(node, AllNode) else [node]) if isinstance(c, FieldCondition)]

    def first(field: str, op: str) -> FieldCondition | None:
        return next((c for c in leaves if c.field == field and c.op == op), None)

    if (group := first("groups", "has")) is not None:
        return Plan(
            keys.group_partition(workspace_id, str(group.value)),
            Membership.sk.startswith("MEMBER#"),
            members=True,
        )
    if (tag := first("tags", "has")) is not None:
        return Plan(ContactTag.partition(workspace_id, str(tag.value)), copies=True)
    if (status := first("status", "eq")) is not None:
        return Plan(Contact.status_partition(workspace_id, str(status.value)), index="gsi1")
    if (stage := first("pipelineStage", "eq")) is not None:
        return Plan(Contact.stage_partition(workspace_id, str(stage.value)), index="gsi2")
    for field in _TOKEN_FIELDS:
        prefix = first(field, "startsWith")
        if prefix is not None and fold(str(prefix.value)):
            folded = fold(str(prefix.value))
            return Plan(
                ContactSearch.partition(workspace_id),
                ContactSearch.sk.startswith(folded),
                forward=True,
                prefix=folded,
                copies=True,
            )
    return Plan(Contact.list_partition(workspace_id), index="gsi4")


def scope(workspace_id: str, node: FilterNode) -> str:
    """What a cursor is bound to: this workspace and this filter."""
    text = json.dumps(node.model_dump(by_alias=True, mode="json"), sort_keys=True)
    return f"segments:{workspace_id}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def search(
    workspace_id: str, checked: Checked, *, limit: int, cursor: str | None
) -> tuple[list[ContactData], str | None, int]:
    """One page of matching contacts, the next cursor and how many items were read."""
    where = scope(workspace_id, checked.node)
    result = page(
        workspace_id, checked, plan(workspace_id, checked.node), limit, pagination.decode(cursor, where)
    )
    return result.items, pagination.encode(result.last_key, where), result.scanned


def count(workspace_id: str, checked: Checked) -> tuple[int, bool]:
    """(count, exact)."""
    node = checked.node
    if isinstance(node, FieldCondition) and node.op == "has" and node.field == "tags":
        return _tag_count(workspace_id, str(node.value)), True
    chosen = plan(workspace_id, node)
    total, read, start = 0, 0, None
    while True:
        result = page(workspace_id, checked, chosen, READ_LIMIT, start)
        total += len(result.items)
        read += result.scanned
        start = result.last_key
        if start is None:
            return total, True
        if read >= COUNT_READ_LIMIT:
            return total, False


def _tag_count(workspace_id: str, tag: str) -> int:
    found = list(TagCount.batch_get([TagCount.key(workspace_id, tag)]))
    return int(found[0].contactCount or 0) if found else 0


def page(
    workspace_id: str, checked: Checked, chosen: Plan, limit: int, start: dict[str, Any] | None
) -> Result:
    """One Query of at most READ_LIMIT items, run through the evaluator: up to `limit`
    matches, and the key to go on from (after the last match returned when the page is full,
    else after the last item read)."""
    raw = Item._get_connection().query(
        chosen.hash_key,
        range_key_condition=chosen.range_condition,
        index_name=chosen.index,
        limit=max(limit, READ_LIMIT),
        exclusive_start_key=start,
        scan_index_forward=chosen.forward,
    )
    raw_items = raw.get("Items", [])
    read = [Item.from_raw_data(item) for item in raw_items]
    candidates = _contacts_of(workspace_id, read, chosen, canonical=_reads_contact_item(checked))
    context = Context(now=clock.now(), groups_of=_group_facts(workspace_id, checked, candidates))
    kept: list[ContactData] = []
    for position, (item, contact) in enumerate(zip(read, candidates, strict=True)):
        if contact is None:
            continue
        if chosen.prefix is not None and not _first_token(item, chosen.prefix):
            continue
        if not matches(checked, contact.attribute_values, context):
            continue
        kept.append(contact)
        if len(kept) == limit:
            if position < len(raw_items) - 1:
                names = (
                    ("pk", "sk", f"{chosen.index}pk", f"{chosen.index}sk") if chosen.index else ("pk", "sk")
                )
                return Result(kept, {name: raw_items[position][name] for name in names}, position + 1)
            break
    return Result(kept, raw.get("LastEvaluatedKey"), len(raw_items))


def _reads_contact_item(checked: Checked) -> bool:
    """Whether the filter needs what only the Contact item holds: its engagement facts, or
    its score (moved by an award's transaction on the Contact item alone, so a copy's may be
    behind)."""
    return checked.engagement or any(
        isinstance(c, FieldCondition) and c.field == "score" for c in conditions(checked.node)
    )


def _contacts_of(
    workspace_id: str, read: list[Item], chosen: Plan, *, canonical: bool
) -> list[ContactData | None]:
    """The contact of each item read (the items themselves, or the members' contacts; the
    Contact items of copies when the filter needs what only they hold)."""
    if chosen.copies and canonical:
        by_id = contacts.get_many(workspace_id, [i.id for i in read if isinstance(i, ContactData)])
        return [by_id.get(i.id) if isinstance(i, ContactData) else None for i in read]
    if not chosen.members:
        return [item if isinstance(item, ContactData) else None for item in read]
    ids = [item.contactId for item in read if isinstance(item, Membership)]
    found = contacts.get_many(workspace_id, ids)
    return [found.get(item.contactId) if isinstance(item, Membership) else None for item in read]


def _group_facts(workspace_id: str, checked: Checked, candidates: Iterable[ContactData | None]) -> Any:
    """contact id -> the filter's groups it is in: one BatchGetItem of the memberships the
    page needs (none when the filter names no group)."""
    memberships: dict[str, set[str]] = {}
    if checked.group_ids:
        contact_ids = {c.id for c in candidates if c is not None}
        wanted = [
            Membership.key(workspace_id, g, cid)
            for g in sorted(checked.group_ids)
            for cid in sorted(contact_ids)
        ]
        for member in Membership.batch_get(wanted) if wanted else ():
            memberships.setdefault(member.contactId, set()).add(member.groupId)

    def groups_of(contact_id: str) -> frozenset[str]:
        return frozenset(memberships.get(contact_id, ()))

    return groups_of


def _first_token(item: Item, prefix: str) -> bool:
    """A search item counts only under the contact's smallest token starting with the
    prefix: a contact whose email and name both match is listed once."""
    if not isinstance(item, ContactData):
        return False
    token = item.sk[: -(_ID_LENGTH + 1)]
    starting = [t for t in search_tokens(item.email, item.firstName, item.lastName) if t.startswith(prefix)]
    return bool(starting) and token == min(starting)
