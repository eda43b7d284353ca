"""The suppression list (`/api/v1/exclusions`) and the check every send goes through.

An exclusion is an address (person@x.com) or a whole domain (@x.com, which also covers its
subdomains: @eu.x.com). Checking an address reads, in one BatchGetItem, the exclusion of the
address, those of its domain and parent domains, and the keyed hash that GDPR erasure keeps
of an erased person (chalicelib.contacts.identity.erased_digest): no Query, no Scan.

Public:
- `is_suppressed(workspace_id, email) -> str | None` (why: excludedAddress, excludedDomain, erased)
- `suppressed(workspace_id, emails) -> dict[str, str]` (the same for many; 100 keys a request)
- `checks_for(workspace_id, emails)`, `reasons(checks, found_keys)`: the same check split in
  two, for a caller that reads the keys in its own BatchGetItem (chalicelib.campaigns.enrollment)
- `normalise(value) -> tuple[str, str]` ((value, "address" | "domain"); 422 otherwise)
- `add(workspace_id, value) -> tuple[dict, bool]`, `remove(workspace_id, value)`, `page(...)`
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.contacts.identity import IdentityError, erased_digest, normalise_email
from chalicelib.models.contacts import ErasedIdentity
from chalicelib.models.exclusions import PREFIX, Exclusion
from chalicelib.platform import clock
from chalicelib.platform.db import Item, is_conditional_failure
from chalicelib.platform.errors import NotFound, field_error
from chalicelib.platform.paged_query import cursor_page

EXCLUDED_ADDRESS = "excludedAddress"
EXCLUDED_DOMAIN = "excludedDomain"
ERASED = "erased"
ADDRESS, DOMAIN = "address", "domain"
_BATCH_KEYS = 100


def normalise(value: str) -> tuple[str, str]:
    """(the stored form, its kind); 422 validation_error when it is neither an address nor
    an @domain. Addresses are normalised like contacts' emails, so they match them."""
    # cold start: heavy library, loaded on first use
    from email_validator import EmailNotValidError, validate_email

    text = value.strip()
    if text.startswith("@"):
        try:
            checked = validate_email("postmaster" + text, check_deliverability=False)
        except EmailNotValidError as error:
            raise field_error("value", f"is not a domain: {error}") from None
        return "@" + checked.normalized.lower().rpartition("@")[2], DOMAIN
    try:
        return normalise_email(text), ADDRESS
    except IdentityError as error:
        raise field_error("value", f"is neither an email address nor an @domain: {error}") from None


def view(item: Exclusion) -> dict[str, Any]:
    return {"value": item.value, "type": item.kind, "createdAt": item.createdAt}


def add(workspace_id: str, value: str) -> tuple[dict[str, Any], bool]:
    """(the exclusion, True when created); adding one already there returns it unchanged."""
    normalised, kind = normalise(value)
    item = Exclusion(
        *Exclusion.key(workspace_id, normalised), value=normalised, kind=kind, createdAt=clock.now_iso()
    )
    try:
        item.save(condition=Exclusion.pk.does_not_exist())
    except PutError as error:
        if not is_conditional_failure(error):
            raise
        return view(Exclusion.get(*Exclusion.key(workspace_id, normalised), consistent_read=True)), False
    return view(item), True


def remove(workspace_id: str, value: str) -> None:
    normalised, _ = normalise(value)
    try:
        Exclusion(*Exclusion.key(workspace_id, normalised)).delete(condition=Exclusion.pk.exists())
    except DeleteError as error:
        if is_conditional_failure(error):
            raise NotFound("this value is not on the suppression list") from None
        raise


def page(workspace_id: str, limit: int, cursor: str | None, prefix: str = "") -> dict[str, Any]:
    """One Query: the exclusions in value order (`prefix` narrows it: "@" lists domains)."""
    items, next_cursor = cursor_page(
        Exclusion,
        Exclusion.key(workspace_id, "")[0],
        Exclusion.sk.startswith(PREFIX + prefix.strip().lower()),
        scope=f"exclusions:{workspace_id}:{prefix}",
        limit=limit,
        cursor=cursor,
    )
    return {"items": [view(found) for found in items], "nextCursor": next_cursor}


# ---- checking ---------------------------------------------------------------------------


def is_suppressed(workspace_id: str, email: str) -> str | None:
    """Why this address must not be emailed, or None. One BatchGetItem."""
    return suppressed(workspace_id, [email]).get(email)


def suppressed(workspace_id: str, emails: Iterable[str]) -> dict[str, str]:
    """{email: reason} for the addresses that must not be emailed (the others are absent)."""
    checks = checks_for(workspace_id, emails)
    keys = list(dict.fromkeys(key for entries in checks.values() for key, _ in entries))
    found: set[tuple[str, str]] = set()
    for start in range(0, len(keys), _BATCH_KEYS):
        for item in Item.batch_get(keys[start : start + _BATCH_KEYS], attributes_to_get=["pk", "sk", "type"]):
            found.add((item.pk, item.sk))
    return reasons(checks, found)


Checks = dict[str, list[tuple[tuple[str, str], str]]]


def checks_for(workspace_id: str, emails: Iterable[str]) -> Checks:
    """{email: [(key to read, reason when it exists)]}: for a caller that reads these keys
    in its own BatchGetItem (enrollment), then calls `reasons`."""
    return {email: _keys_for(workspace_id, email) for email in dict.fromkeys(emails)}


def reasons(checks: Checks, found: set[tuple[str, str]]) -> dict[str, str]:
    """{email: reason} given the keys of `checks` that exist."""
    result: dict[str, str] = {}
    for email, entries in checks.items():
        # Address first, then the domains, then erasure: the most precise reason wins.
        reason = next((why for key, why in entries if key in found), None)
        if reason:
            result[email] = reason
    return result


def _keys_for(workspace_id: str, email: str) -> list[tuple[tuple[str, str], str]]:
    address = email.strip().lower()
    domain = address.rpartition("@")[2]
    labels = domain.split(".")
    keys = [(Exclusion.key(workspace_id, address), EXCLUDED_ADDRESS)]
    # The domain and each parent that still has a dot (a bare TLD cannot be excluded).
    keys += [
        (Exclusion.key(workspace_id, "@" + ".".join(labels[i:])), EXCLUDED_DOMAIN)
        for i in range(len(labels) - 1)
    ]
    keys.append((ErasedIdentity.key(workspace_id, erased_digest(workspace_id, "email", address)), ERASED))
    return keys
