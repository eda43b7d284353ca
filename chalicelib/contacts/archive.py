"""Archiving a contact: it keeps its data and history but leaves every list, search, count,
enrollment and the plan's count, until it is unarchived (by the API, or by a sync or a form
post that matches it: chalicelib.contacts.sync).

Archiving is an ordinary contact write (chalicelib.contacts.store): `archivedAt` set, the
store drops the search and tag copies and the listing keys, and moves the plan's and the
tags' counters, all in the contact's one transaction conditioned on its revision. Two writers
racing on the contact (an archive and a sync's unarchive) therefore never both win: the loser
reads again and decides on the new state, so the counters move once.
"""

from __future__ import annotations

from chalicelib.contacts.service import attempts, get, raise_for
from chalicelib.contacts.store import WriteRejected, canonical, commit, plan, state_of
from chalicelib.models.contacts import Contact
from chalicelib.platform import clock
from chalicelib.platform.errors import Conflict


def archive(workspace_id: str, contact_id: str) -> Contact:
    """Archive the contact (404 unknown). Already archived: the same contact, nothing written."""
    return _set(workspace_id, contact_id, archived=True)


def unarchive(workspace_id: str, contact_id: str) -> Contact:
    """Unarchive the contact (404 unknown; 402 when the plan has no room for it). Not
    archived: the same contact, nothing written."""
    return _set(workspace_id, contact_id, archived=False)


def _set(workspace_id: str, contact_id: str, *, archived: bool) -> Contact:
    for _ in attempts():
        before = state_of(get(workspace_id, contact_id))
        if bool(before.get("archivedAt")) == archived:
            return canonical(before)  # idempotent: the same answer, nothing written
        now = clock.now_iso()
        after = {**before, "archivedAt": now if archived else None, "updatedAt": now}
        try:
            commit(workspace_id, [plan(before, after)])
        except WriteRejected as rejected:
            raise_for(rejected)  # 402 when unarchiving passes the plan's limit
            continue  # the contact changed meanwhile: decide again on what it is now
        return canonical(after)
    raise Conflict("the contact kept changing while it was being archived; try again")
