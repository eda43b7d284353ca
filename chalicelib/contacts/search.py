"""The contacts list: filters status, tag, groupId, pipelineStage and q (prefix of the email,
of "first last" or of the last name; case- and accent-insensitive), combinable, one page per
cursor, never a Scan.

Each page is one Query on the partition that serves the most selective filter, the other
filters applied as a FilterExpression in the same request (every copy of a contact carries
the same attributes, see models/contacts.py):

| filter present | Query | requests per page |
|---|---|---|
| groupId | the group's members (`WS#<ws>#GROUP#<g>`; gsi2 by status), then BatchGetItem | 2 |
| q | search tokens `WS#<ws>#SEARCH`, begins_with(sk, folded q) | 1 |
| tag | tag links `WS#<ws>#TAG#<tag>` | 1 |
| pipelineStage | gsi2 `WS#<ws>#CSTAGE#<stage>` | 1 |
| status | gsi1 `WS#<ws>#CSTATUS#<status>` | 1 |
| none | gsi4 `WS#<ws>#CLIST` | 1 |
| archived (alone or with status, stage, tag, q as a FilterExpression) | gsi4 `WS#<ws>#CARCHIVED` | 1 |

Archived contacts are in none of the partitions above but their own: their keys leave them
(models/contacts.py), so pages stay full. With groupId the other filters (archived
included) are applied to the contacts read. A filtered Query reads up
to FILTERED_READ items to fill the page, so a page can hold fewer
than `limit` items and still have a next cursor. Lists are newest first, search results in
token order. A contact matching `q` through two tokens is listed once (under its smallest
matching token).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from pynamodb.expressions.condition import Condition

from chalicelib.contacts import service as contacts
from chalicelib.contacts.identity import fold, search_tokens
from chalicelib.models import keys
from chalicelib.models.contacts import Contact, ContactData, ContactSearch, ContactTag
from chalicelib.models.groups import Membership
from chalicelib.platform import pagination
from chalicelib.platform.db import Item
from chalicelib.platform.errors import field_error
from chalicelib.platform.paged_query import query_page

FILTERED_READ = 500
_ID_LENGTH = 26


@dataclass(frozen=True)
class ContactFilters:
    status: str | None = None
    tag: str | None = None
    group_id: str | None = None
    pipeline_stage: str | None = None
    q: str | None = None
    archived: bool = False

    def scope(self, workspace_id: str) -> str:
        """What a cursor is bound to: this workspace and these filters."""
        parts = (
            self.status,
            self.tag,
            self.group_id,
            self.pipeline_stage,
            self.q,
            "a" if self.archived else "",
        )
        return "contacts:" + workspace_id + ":" + "\0".join(part or "" for part in parts)


def search(
    workspace_id: str, filters: ContactFilters, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[ContactData], str | None]:
    """One page of contacts (Contact items or copies: use contacts.view) and the next cursor.

    422 (field `cursor`) for a cursor that was altered or comes from another list; 422
    (field `q`) for a q with nothing searchable in it.
    """
    scope = filters.scope(workspace_id)
    start = pagination.decode(cursor, scope)
    folded_q = fold(filters.q) if filters.q is not None else None
    if filters.q is not None and not folded_q:
        raise field_error("q", "has nothing to search for")
    if filters.group_id:
        items, last = _group_page(workspace_id, filters, folded_q, limit, start)
    else:
        items, last = _index_page(workspace_id, filters, folded_q, limit, start)
    return items, pagination.encode(last, scope)


def _index_page(
    ws: str, filters: ContactFilters, q: str | None, limit: int, start: dict[str, Any] | None
) -> tuple[list[ContactData], dict[str, Any] | None]:
    conditions: list[Condition] = []
    keep: Callable[[Item], bool] | None = None
    index = None
    forward = False
    if filters.archived:
        hash_key, range_condition, index = Contact.list_partition(ws, archived=True), None, "gsi4"
        conditions = _filters(filters, status=True, stage=True, tag=True)
        if q is not None:
            keep = _any_token(q)
    elif q is not None:
        hash_key, range_condition = ContactSearch.partition(ws), ContactSearch.sk.startswith(q)
        keep, forward = _first_matching_token(q), True
        conditions = _filters(filters, status=True, stage=True, tag=True)
    elif filters.tag is not None:
        hash_key, range_condition = ContactTag.partition(ws, filters.tag), None
        conditions = _filters(filters, status=True, stage=True)
    elif filters.pipeline_stage is not None:
        hash_key, range_condition, index = Contact.stage_partition(ws, filters.pipeline_stage), None, "gsi2"
        conditions = _filters(filters, status=True)
    elif filters.status is not None:
        hash_key, range_condition, index = Contact.status_partition(ws, filters.status), None, "gsi1"
    else:
        hash_key, range_condition, index = Contact.list_partition(ws), None, "gsi4"
    condition = None
    for term in conditions:
        condition = term if condition is None else condition & term
    page = one_page(
        hash_key,
        range_condition,
        condition,
        index=index,
        limit=limit,
        start=start,
        keep=keep,
        forward=forward,
    )
    # Each partition above holds contact data only (Contact items or their copies).
    return cast("tuple[list[ContactData], dict[str, Any] | None]", page)


def _filters(
    filters: ContactFilters, *, status: bool = False, stage: bool = False, tag: bool = False
) -> list[Any]:
    terms: list[Any] = []
    if status and filters.status is not None:
        terms.append(ContactData.status == filters.status)
    if stage and filters.pipeline_stage is not None:
        terms.append(ContactData.pipelineStage == filters.pipeline_stage)
    if tag and filters.tag is not None:
        terms.append(ContactData.tags.contains(filters.tag))
    return terms


def _first_matching_token(q: str) -> Callable[[Item], bool]:
    """Keep a search item only under the contact's smallest token that starts with q, so a
    contact whose email and name both match is listed once across all pages."""

    def keep(item: Item) -> bool:
        token = item.sk[: -(_ID_LENGTH + 1)]
        assert isinstance(item, ContactData)
        matching = [t for t in search_tokens(item.email, item.firstName, item.lastName) if t.startswith(q)]
        return bool(matching) and token == min(matching)

    return keep


def _any_token(q: str) -> Callable[[Item], bool]:
    """Archived contacts have no search tokens: q is then checked on the contact itself."""

    def keep(item: Item) -> bool:
        assert isinstance(item, ContactData)
        return any(t.startswith(q) for t in search_tokens(item.email, item.firstName, item.lastName))

    return keep


def matches(contact: ContactData, filters: ContactFilters, q: str | None) -> bool:
    """The filters other than groupId, applied in memory."""
    if bool(contact.archivedAt) != filters.archived:
        return False
    if filters.status is not None and contact.status != filters.status:
        return False
    if filters.pipeline_stage is not None and contact.pipelineStage != filters.pipeline_stage:
        return False
    if filters.tag is not None and filters.tag not in (contact.tags or []):
        return False
    if q is not None:
        return any(t.startswith(q) for t in search_tokens(contact.email, contact.firstName, contact.lastName))
    return True


def _group_page(
    ws: str, filters: ContactFilters, q: str | None, limit: int, start: dict[str, Any] | None
) -> tuple[list[ContactData], dict[str, Any] | None]:
    group_id = filters.group_id or ""
    if filters.status is not None:
        hash_key, index = Membership.status_partition(ws, group_id, filters.status), "gsi2"
        range_condition = None
    else:
        hash_key, index = keys.group_partition(ws, group_id), None
        range_condition = Membership.sk.startswith("MEMBER#")
    members, last = one_page(
        hash_key, range_condition, None, index=index, limit=limit, start=start, forward=False
    )
    found = contacts.get_many(ws, [m.contactId for m in members if isinstance(m, Membership)])
    ordered = [found[m.contactId] for m in members if isinstance(m, Membership) and m.contactId in found]
    return [c for c in ordered if matches(c, filters, q)], last


def one_page(
    hash_key: str,
    range_condition: Condition | None,
    filter_condition: Condition | None,
    *,
    limit: int,
    start: dict[str, Any] | None,
    index: str | None = None,
    keep: Callable[[Item], bool] | None = None,
    forward: bool = True,
) -> tuple[list[Item], dict[str, Any] | None]:
    """One Query request over a partition of several kinds of item (`query_page`)."""
    page = query_page(
        Item,
        hash_key,
        range_condition,
        limit=limit,
        read_limit=FILTERED_READ,
        filter_condition=filter_condition,
        keep=keep,
        index=index,
        start_key=start,
        forward=forward,
    )
    return page.items, page.last_key
