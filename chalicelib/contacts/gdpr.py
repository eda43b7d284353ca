"""GDPR erasure of a contact ("anonymise").

The contact item stays (group and campaign counts keep adding up) but every personal field
is erased: email, phone, names, company, title, custom fields, tags and the consent's text
and IP (its status, time and source stay: proof of what was done); its status becomes
BLOCKED with `anonymizedAt`. Its lookups, search tokens and tag links are deleted in the same
transaction that writes, for its email and phone, only a keyed hash (ErasedIdentity): a later
sync, form post or import of the same person is refused (409) or skipped, never stored.
Enrollments are stopped by the campaign engine reacting to the Contact MODIFY record (status
BLOCKED with anonymizedAt); memberships stay, their copy of the contact follows.
"""

from __future__ import annotations

from chalicelib.contacts import consent
from chalicelib.contacts.service import attempts, erased_digests, get
from chalicelib.contacts.store import WriteRejected, canonical, commit, plan, state_of
from chalicelib.models.contacts import PERSONAL_FIELDS, Contact
from chalicelib.platform import clock
from chalicelib.platform.errors import Conflict


def anonymize(workspace_id: str, contact_id: str) -> Contact:
    """Erase the contact's personal data (idempotent: an anonymised contact is returned as is)."""
    for _ in attempts():
        before = state_of(get(workspace_id, contact_id))
        if before.get("anonymizedAt"):
            return canonical(before)
        now = clock.now_iso()
        after = {
            **before,
            **dict.fromkeys(PERSONAL_FIELDS),
            "customFields": {},
            "tags": [],
            "consent": consent.erased(before),
            "status": "BLOCKED",
            "statusReason": "anonymized",
            "anonymizedAt": now,
            "updatedAt": now,
        }
        digests = erased_digests(workspace_id, before.get("email"), before.get("phone"))
        try:
            commit(workspace_id, [plan(before, after, erase=list(digests), now=now)])
        except WriteRejected:
            continue
        return canonical(after)
    raise Conflict("the contact kept changing while it was being anonymised; try again")
