"""What deliverability events do to a contact's status, and which status wins.

A contact that unsubscribed and then bounces stays UNSUBSCRIBED; one that replied and then
unsubscribes becomes UNSUBSCRIBED. The order (strongest first): BLOCKED (erased or blocked
by an operator), UNSUBSCRIBED, BOUNCED, REPLIED, ACTIVE. Events only ever raise a status;
lowering one is an operator's act (PATCH /contacts/{id}).
"""

from __future__ import annotations

from chalicelib.platform.errors import NotFound
from chalicelib.platform.logs import logger

RANK = {"ACTIVE": 0, "REPLIED": 1, "BOUNCED": 2, "UNSUBSCRIBED": 3, "BLOCKED": 4}


def raise_to(workspace_id: str, contact_id: str, status: str, reason: str) -> bool:
    """Set `status` (with `reason`) unless the contact already has an equal or stronger one;
    True when it changed. A contact deleted meanwhile is nothing to do. The campaign engine
    reacts to the change (stream) and stops the contact's enrollments."""
    from chalicelib.contacts import service as contacts

    try:
        return contacts.raise_status(workspace_id, contact_id, status, reason)
    except NotFound:
        logger.info("status not set: the contact is gone", extra={"contact_id": contact_id, "status": status})
        return False
