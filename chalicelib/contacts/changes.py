"""Changing many contacts at once, by a function of each one's state: read them (BatchGetItem),
compute each new state, write the changed ones in packed TransactWriteItems conditioned on what
was read; a pack rejected because a contact changed meanwhile is read and computed again
(MAX_ATTEMPTS rounds). The one copy of that loop for every bulk change of contacts (a group's
applyTags, the bulk actions on a filter).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chalicelib.contacts.service import MAX_ATTEMPTS, get_many, same
from chalicelib.contacts.store import State, WriteRejected, commit, pack, plan, state_of
from chalicelib.platform import clock
from chalicelib.platform.errors import ApiError

# A contact's state -> its new state, or None to leave it; raises ApiError to refuse this one
# contact (reported with its message, the others go on).
Change = Callable[[State], State | None]


@dataclass
class Outcome:
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # nothing to do (already so, or gone)
    errors: list[dict[str, str]] = field(default_factory=list)  # {contactId, email, reason}


def change_many(workspace_id: str, contact_ids: Sequence[str], change: Change) -> Outcome:
    """Apply `change` to each of these contacts; a contact already as `change` wants it is not
    written, so running this twice changes nothing the second time."""
    outcome = Outcome()
    pending = list(dict.fromkeys(contact_ids))
    emails: dict[str, str] = {}
    for _ in range(MAX_ATTEMPTS):
        if not pending:
            break
        found = get_many(workspace_id, pending)
        outcome.unchanged += [cid for cid in pending if cid not in found]  # deleted meanwhile
        writes = []
        for contact in found.values():
            before = state_of(contact)
            emails[contact.id] = str(before.get("email") or "")
            try:
                after = change(before)
            except ApiError as error:
                outcome.errors.append(
                    {"contactId": contact.id, "email": emails[contact.id], "reason": error.message}
                )
                continue
            if after is None or same(before, after):
                outcome.unchanged.append(contact.id)
                continue
            writes.append(plan(before, {**after, "updatedAt": clock.now_iso()}))
        retry: list[str] = []
        for batch in pack(writes):
            try:
                commit(workspace_id, batch)
            except WriteRejected:
                # Someone changed one of these contacts meanwhile: read them again.
                retry.extend(write.contact_id for write in batch)
            else:
                outcome.changed.extend(write.contact_id for write in batch)
        pending = retry
    outcome.errors += [
        {
            "contactId": cid,
            "email": emails.get(cid, ""),
            "reason": "kept changing while the job ran; not changed",
        }
        for cid in pending
    ]
    return outcome
