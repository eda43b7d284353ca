"""A contact's score and the live awards that make it (GET /api/v1/contacts/{id}/score)."""

from __future__ import annotations

from typing import Any

from chalicelib.contacts import service as contacts
from chalicelib.models.activity import Activity
from chalicelib.scoring.awards import PREFIX

MAX_AWARDS = 1000  # shown at most (a contact rarely holds more live awards)


def view(ws: str, contact_id: str) -> dict[str, Any]:
    """The score on the contact (404 for no such contact) and its live awards, newest first:
    one GetItem and one Query."""
    contact = contacts.get(ws, contact_id)
    found = Activity.query(
        Activity.partition(ws, contact_id), Activity.sk.startswith(PREFIX), limit=MAX_AWARDS
    )
    live = [a for a in found if isinstance(a, Activity) and a.points is not None and not a.expiredAt]
    live.sort(key=lambda a: (a.at, a.sk), reverse=True)
    return {
        "score": int(contact.score or 0),
        "awards": [
            {"ruleId": a.ruleId, "points": int(a.points or 0), "at": a.at, "expiresAt": a.expiresAt}
            for a in live
        ],
    }
