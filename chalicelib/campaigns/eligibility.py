"""Who may receive a campaign's email, and why not: one rule and one set of reason codes for
enrollment (a skipped contact's `reason`), the step runner and the stream (an enrollment's
`stopReason`), and the API that reports them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import lru_cache
from typing import Any


class Ineligible(StrEnum):
    CONTACT_NOT_FOUND = "contactNotFound"  # an id that names no contact of the workspace
    CONTACT_DELETED = "contactDeleted"  # the contact went while it was enrolled
    ANONYMIZED = "anonymized"
    ARCHIVED = "archived"  # the contact is archived (POST /contacts/{id}/archive)
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    REPLIED = "replied"
    BLOCKED = "blocked"
    UNCONFIRMED = "unconfirmed"  # a double opt-in lead that has not confirmed yet
    NOT_ACTIVE = "notActive"  # any other status that is not ACTIVE
    NO_CONSENT = "noConsent"  # the workspace requires consent and the contact's is not GRANTED
    NO_EMAIL = "noEmail"
    INVALID_EMAIL = "invalidEmail"
    EXCLUDED = "excluded"  # a member of one of the campaign's excluded groups
    ALREADY_ENROLLED = "alreadyEnrolled"
    LEFT_GROUP = "leftGroup"  # left the group it came through (a campaign's stopWhenLeaving)
    # and the suppression list's verdicts (chalicelib.deliverability.suppression):
    # excludedAddress, excludedDomain, erased


# A contact reaching one of these statuses stops its enrollments (the stream's reaction).
STOP_STATUSES: dict[str, Ineligible] = {
    "UNSUBSCRIBED": Ineligible.UNSUBSCRIBED,
    "BOUNCED": Ineligible.BOUNCED,
    "REPLIED": Ineligible.REPLIED,
    "BLOCKED": Ineligible.BLOCKED,
}
_NOT_ACTIVE = {**STOP_STATUSES, "UNCONFIRMED": Ineligible.UNCONFIRMED}


def reason(
    contact: Mapping[str, Any] | None, *, missing: Ineligible, require_consent: bool = False
) -> str | None:
    """Why this contact (its attributes) cannot receive campaign email (an Ineligible value,
    a plain string as stored), or None when it can; `missing` is the reason when there is no
    contact. `require_consent` (the workspace's requireConsent): only a GRANTED consent will do."""
    found = _reason(contact, missing)
    if found is None and require_consent and not _granted(contact):
        found = Ineligible.NO_CONSENT
    return None if found is None else found.value


def _granted(contact: Mapping[str, Any] | None) -> bool:
    consent = (contact or {}).get("consent") or {}
    if hasattr(consent, "as_dict"):  # a Contact item's MapAttribute; a stream image has a dict
        consent = consent.as_dict()
    return bool(consent.get("status") == "GRANTED")


def _reason(contact: Mapping[str, Any] | None, missing: Ineligible) -> Ineligible | None:
    if contact is None:
        return missing
    if contact.get("anonymizedAt"):
        return Ineligible.ANONYMIZED
    if contact.get("archivedAt"):
        return Ineligible.ARCHIVED
    status = contact.get("status") or "ACTIVE"
    if status != "ACTIVE":
        return _NOT_ACTIVE.get(str(status), Ineligible.NOT_ACTIVE)
    email = contact.get("email")
    if not email:
        return Ineligible.NO_EMAIL
    if not valid_email(str(email)):
        return Ineligible.INVALID_EMAIL
    return None


def stop_on_change(
    event_name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> str | None:
    """Why a change of a contact (a stream record's images) stops its enrollments, or None:
    deleted, anonymised, archived, or moved to a stopping status."""
    found = _stop(event_name, old, new)
    return None if found is None else found.value


def _stop(event_name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Ineligible | None:
    if event_name == "REMOVE":
        return Ineligible.CONTACT_DELETED
    if event_name != "MODIFY" or new is None:
        return None
    before = old or {}
    if new.get("anonymizedAt") and new.get("anonymizedAt") != before.get("anonymizedAt"):
        return Ineligible.ANONYMIZED
    if new.get("archivedAt") and not before.get("archivedAt"):
        return Ineligible.ARCHIVED
    status = new.get("status")
    if status != before.get("status"):
        return STOP_STATUSES.get(str(status))
    return None


@lru_cache(maxsize=4096)
def valid_email(address: str) -> bool:
    # cold start: heavy library, loaded on first use
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True
