"""Tags: the workspace's tags with their contact counts, and renaming (or merging) a tag
across all its contacts.

A contact's tags live on the contact (and its copies); each tag has a link item per contact
(`WS#<ws>#TAG#<tag>` / `CONTACT#<id>`, a copy of the contact, what the `tag` filter queries)
and a counter item (`WS#<ws>` / `TAG#<tag>`) that the contact transactions keep exact.
"""

from __future__ import annotations

import time

from chalicelib.contacts.search import one_page
from chalicelib.contacts.service import attempts, get, merged_tags
from chalicelib.contacts.store import State, WriteRejected, commit, pack, plan, state_of
from chalicelib.models import keys
from chalicelib.models.contacts import ContactTag, TagCount
from chalicelib.platform import clock, pagination
from chalicelib.platform.errors import Conflict, field_error

# Contacts renamed per round: one Query of links, then transactions of up to 100 actions.
ROUND = 100
# A rename stops starting rounds after this long, within API Gateway's 29 s; it is resumable
# (the links still under the old name are the work left), so the client calls it again.
TIME_BUDGET_SECONDS = 20.0


def list_page(workspace_id: str, limit: int, cursor: str | None) -> tuple[list[TagCount], str | None]:
    """Tags in use (contactCount > 0), in name order; one Query per page."""
    scope = f"tags:{workspace_id}"
    items, last = one_page(
        keys.workspace(workspace_id),
        TagCount.sk.startswith("TAG#"),
        TagCount.contactCount > 0,
        limit=limit,
        start=pagination.decode(cursor, scope),
    )
    return [item for item in items if isinstance(item, TagCount)], pagination.encode(last, scope)


def count(workspace_id: str, tag: str) -> int:
    found = list(TagCount.batch_get([TagCount.key(workspace_id, tag)], consistent_read=True))
    return int(found[0].contactCount) if found else 0


def rename(
    workspace_id: str, old: str, new: str, *, budget_seconds: float = TIME_BUDGET_SECONDS
) -> tuple[bool, int, bool]:
    """Give every contact tagged `old` the tag `new` instead; when some contacts already carry
    `new` the tags merge (such contacts just lose `old`). Returns (merged, contacts changed,
    done); not done when the time budget ran out first: calling again goes on.

    Round by round: one Query of `old`'s links (each a copy of its contact), then the
    contacts rewritten in batched transactions conditioned on their revision; a contact that
    changed meanwhile is read again and redone alone.
    """
    if old == new:
        raise field_error("to", "is the same tag")
    deadline = time.monotonic() + budget_seconds
    merged = count(workspace_id, new) > 0
    changed = 0
    while time.monotonic() < deadline:
        links, _last = one_page(ContactTag.partition(workspace_id, old), None, None, limit=ROUND, start=None)
        if not links:
            return merged, changed, True
        writes = [plan(before, _retagged(before, old, new)) for before in map(state_of, links)]  # type: ignore[arg-type]
        progress = 0
        for group in pack(writes):
            try:
                commit(workspace_id, group)
                progress += len(group)
            except WriteRejected:
                progress += sum(_retag_alone(workspace_id, w.contact_id, old, new) for w in group)
        if not progress:  # links of contacts that no longer carry the tag: nothing to move
            raise Conflict("the tag's contacts keep changing; try again")
        changed += progress
    return merged, changed, False


def _retagged(before: State, old: str, new: str) -> State:
    tags = [new if tag == old else tag for tag in before["tags"]]
    return {**before, "tags": merged_tags(tags), "updatedAt": clock.now_iso()}


def _retag_alone(workspace_id: str, contact_id: str, old: str, new: str) -> int:
    """Rename the tag on one contact read afresh; 1 if it changed, 0 if it no longer had it."""
    from chalicelib.platform.errors import NotFound

    for _ in attempts():
        try:
            before = state_of(get(workspace_id, contact_id))
        except NotFound:
            return 0
        if old not in before["tags"]:
            return 0
        try:
            commit(workspace_id, [plan(before, _retagged(before, old, new))])
        except WriteRejected:
            continue
        return 1
    raise Conflict("a contact kept changing while its tag was being renamed; call again to continue")
