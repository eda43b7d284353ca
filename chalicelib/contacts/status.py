"""What deliverability events do to a contact's status, and which status wins.

A contact that unsubscribed and then bounces stays UNSUBSCRIBED; one that replied and then
unsubscribes becomes UNSUBSCRIBED. The order (strongest first): BLOCKED (erased or blocked
by an operator), UNSUBSCRIBED, BOUNCED, REPLIED, ACTIVE, UNCONFIRMED (a double opt-in lead
that has not confirmed yet: never enrolled, sent nothing but its confirmation email). Events
only ever raise a status; lowering one is an operator's act (PATCH /contacts/{id}).
Becoming UNSUBSCRIBED withdraws the contact's consent (chalicelib.contacts.consent).
"""

from __future__ import annotations

from chalicelib.contacts import consent
from chalicelib.contacts.service import attempts, get
from chalicelib.contacts.store import WriteRejected, canonical, commit, plan, state_of
from chalicelib.models.contacts import Contact
from chalicelib.platform import clock
from chalicelib.platform.errors import Conflict, NotFound
from chalicelib.platform.logs import logger

RANK = {"UNCONFIRMED": -1, "ACTIVE": 0, "REPLIED": 1, "BOUNCED": 2, "UNSUBSCRIBED": 3, "BLOCKED": 4}


def raise_to(workspace_id: str, contact_id: str, status: str, reason: str) -> bool:
    """Set `status` (with `reason`) unless the contact already has an equal or stronger one;
    True when it changed. A contact deleted meanwhile is nothing to do. The campaign engine
    reacts to the change (stream) and stops the contact's enrollments."""
    try:
        return raise_status(workspace_id, contact_id, status, reason)
    except NotFound:
        logger.info("status not set: the contact is gone", extra={"contact_id": contact_id, "status": status})
        return False


def raise_status(workspace_id: str, contact_id: str, status: str, reason: str | None) -> bool:
    """Raise the status to `status` (with why, e.g. ("UNSUBSCRIBED", "unsubscribe link")),
    unless the contact already has an equal or stronger one (RANK), checked
    on the read the write is conditioned on: a concurrent stronger status is never lowered.
    An anonymised contact stays BLOCKED. True when it changed; two requests."""
    for _ in attempts():
        before = state_of(get(workspace_id, contact_id))
        if before.get("anonymizedAt") or RANK.get(before["status"], 0) >= RANK[status]:
            return False
        after = {**before, "status": status, "statusReason": reason, "updatedAt": clock.now_iso()}
        after = consent.reconciled(before, after, reason or "status")
        try:
            commit(workspace_id, [plan(before, after)])
        except WriteRejected:
            continue
        return True
    raise Conflict("the contact kept changing while its status was being set; try again")


def confirm(workspace_id: str, contact_id: str, source: str, ip: str | None) -> Contact | None:
    """The person clicked a double opt-in's confirmation button: an UNCONFIRMED contact
    becomes ACTIVE and its consent GRANTED (from `source`, keeping the text it agreed to on
    the form, with the IP of the click). Any other status is left as it is (a contact that
    unsubscribed meanwhile stays so) and nothing is written: confirming twice is confirming
    once. The state after; None when the contact is gone. One GetItem, and one
    TransactWriteItems conditioned on the revision read when something changes."""
    for _ in attempts():
        try:
            before = state_of(get(workspace_id, contact_id))
        except NotFound:
            return None
        if before["status"] != "UNCONFIRMED" or before.get("anonymizedAt"):
            return canonical(before)
        now = clock.now_iso()
        granted = {"status": consent.GRANTED, "at": now, "source": source}
        text = (before.get("consent") or {}).get("text")
        if text:
            granted["text"] = text
        if ip:
            granted["ip"] = ip
        after = {**before, "status": "ACTIVE", "statusReason": None, "consent": granted, "updatedAt": now}
        try:
            commit(workspace_id, [plan(before, after)])
        except WriteRejected:
            continue
        return canonical(after)
    raise Conflict("the contact kept changing while it was being confirmed; try again")
