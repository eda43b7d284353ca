"""A contact's consent to marketing email: what it is, how an input changes it, and the one
write that confirms a double opt-in (docs/consent.md).

`consent` is {"status": GRANTED | PENDING | NONE | WITHDRAWN, "at", "source", "text"?, "ip"?}.
Every new contact gets one (NONE, from where it came, unless the input says more). A sync
(API, form, import) changes it only upwards, NONE < PENDING < GRANTED, and never touches a
WITHDRAWN one: as with the status, going back is an operator's act (PATCH /contacts/{id}).
Unsubscribing withdraws it (chalicelib.contacts.status).

Public:
- `stated(given, source, now) -> dict | None`: an input's consent, completed (at, source)
- `initial(given, source, now) -> dict`: a new contact's consent
- `merged(before, given) -> dict | None`: a stored consent after a sync's input
- `withdrawn(source, now) -> dict`
- `of(state) -> dict`: the consent as shown (NONE for contacts stored before consent was)

Confirming a double opt-in (UNCONFIRMED -> ACTIVE, consent GRANTED) is a status change:
chalicelib.contacts.status.confirm.
"""

from __future__ import annotations

from typing import Any

from chalicelib.contacts.store import State
from chalicelib.models.contacts import CONSENT_PERSONAL
from chalicelib.platform import clock

NONE, PENDING, GRANTED, WITHDRAWN = "NONE", "PENDING", "GRANTED", "WITHDRAWN"
# What a sync may raise a consent to; WITHDRAWN is not on it (no sync ever leaves it).
_SYNC_RANK = {NONE: 0, PENDING: 1, GRANTED: 2}


def stated(given: dict[str, Any] | None, source: str, now: str) -> dict[str, Any] | None:
    """The consent an input states, with `at` (now) and `source` (the caller's) filled in."""
    if not given:
        return None
    found = {"status": given["status"], "at": given.get("at") or now, "source": given.get("source") or source}
    for name in CONSENT_PERSONAL:
        if given.get(name):
            found[name] = given[name]
    return found


def initial(given: dict[str, Any] | None, source: str, now: str) -> dict[str, Any]:
    return stated(given, source, now) or {"status": NONE, "at": now, "source": source}


def merged(before: dict[str, Any] | None, given: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored consent after a sync states `given` (already `stated`): raised, never
    lowered, and a WITHDRAWN one kept (a later form post or import does not undo it)."""
    if not given:
        return before
    current = (before or {}).get("status") or NONE
    if current == WITHDRAWN:
        return before
    if given["status"] == WITHDRAWN or _SYNC_RANK[given["status"]] > _SYNC_RANK[current]:
        return given  # a withdrawal is the person's word, whoever passes it on
    return before


def withdrawn(source: str, now: str | None = None) -> dict[str, Any]:
    return {"status": WITHDRAWN, "at": now or clock.now_iso(), "source": source}


def of(state: State) -> dict[str, Any]:
    found = state.get("consent")
    if found:
        return {"status": found["status"], "at": found.get("at"), "source": found.get("source")} | {
            name: found[name] for name in CONSENT_PERSONAL if found.get(name)
        }
    return {"status": NONE, "at": state.get("createdAt"), "source": state.get("source")}


def erased(state: State) -> dict[str, Any] | None:
    """The consent of an anonymised contact: its status, time and source, without the text
    and the IP (personal data)."""
    found = state.get("consent")
    if not found:
        return None
    return {name: value for name, value in found.items() if name not in CONSENT_PERSONAL}


# The statuses at or above UNSUBSCRIBED on chalicelib.contacts.status.RANK: a withdrawn
# consent raises a contact to UNSUBSCRIBED unless it already holds one of them.
_AT_LEAST_UNSUBSCRIBED = frozenset({"UNSUBSCRIBED", "BLOCKED"})


def reconciled(before: State | None, after: State, source: str) -> State:
    """`after` with its status and consent telling the same story: a contact that became
    UNSUBSCRIBED has withdrawn its consent (from `source`, e.g. "unsubscribe link"), and
    one whose consent became WITHDRAWN is UNSUBSCRIBED (the stream then stops its
    enrollments). An erased contact keeps what erasure left."""
    if after.get("anonymizedAt"):
        return after
    old = before or {}
    consent = after.get("consent") or {}
    if (
        after.get("status") == "UNSUBSCRIBED"
        and old.get("status") != "UNSUBSCRIBED"
        and consent.get("status") != WITHDRAWN
    ):
        return {**after, "consent": withdrawn(source, after.get("updatedAt"))}
    newly_withdrawn = (
        consent.get("status") == WITHDRAWN and (old.get("consent") or {}).get("status") != WITHDRAWN
    )
    if newly_withdrawn and after.get("status") not in _AT_LEAST_UNSUBSCRIBED:
        return {**after, "status": "UNSUBSCRIBED", "statusReason": "consent withdrawn"}
    return after
