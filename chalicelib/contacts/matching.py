"""The matching rules of sync and form posts: which contact an email and/or phone designates.

Email is the main identity; a phone identifies only a contact that has no email (only those
have a PHONE# lookup). The table of the issue, row by row:

| input | existing records | result |
|---|---|---|
| email only | no contact has that email | create |
| email only | a contact has that email | update that contact |
| phone only | no contact has that phone | create |
| phone only | a contact without email has that phone | update it |
| phone only | only a contact *with* an email has that phone | create a phone-only contact |
| new email + new phone | - | create |
| new email + phone | a contact with an email has that phone | create |
| new email + phone | a contact without email has that phone | update it (it gains the email) |
| known email + new phone | - | update the email's contact, phone set to the new one |
| known email + known phone | - | update the email's contact; its email and phone stay |

"Known phone" in the last row means a phone that any other contact of the workspace has, with
or without an email (ActiveCampaign: "un numéro de téléphone qui correspond exactement à vos
enregistrements de contacts"): the email's contact keeps its own email and phone, its other
fields update, and the other contact is left alone, so two contacts never end up sharing a
phone through a sync. The caller reports the phone it left out as a warning. A phone still
*identifies* only a contact without an email (rows "phone only" and "new email + phone").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Match:
    """The contact to update (None: create one) and what it takes from the input."""

    target_id: str | None
    take_email: bool
    take_phone: bool


def decide(
    email: str | None,
    phone: str | None,
    email_owner: str | None,
    phone_owner: str | None,
    phone_holders: frozenset[str] = frozenset(),
) -> Match:
    """Apply the table. `email_owner` is the id of the contact holding the email,
    `phone_owner` the id of the phone-only contact holding the phone (None: nobody),
    `phone_holders` the ids of the contacts with an email that have the phone (only asked
    for when the email is known: see `phone_known`)."""
    if email is None and phone is None:
        raise ValueError("an email or a phone is required")
    if email is not None and email_owner is not None:
        known_phone = phone_known(email_owner, phone_owner, phone_holders)
        return Match(target_id=email_owner, take_email=True, take_phone=phone is not None and not known_phone)
    if phone is not None and phone_owner is not None:
        return Match(target_id=phone_owner, take_email=email is not None, take_phone=True)
    return Match(target_id=None, take_email=email is not None, take_phone=phone is not None)


def phone_known(email_owner: str, phone_owner: str | None, phone_holders: frozenset[str]) -> bool:
    """The last row's test: another contact than the email's has the phone."""
    return (phone_owner is not None and phone_owner != email_owner) or bool(phone_holders - {email_owner})


KEPT_PHONE = "another contact has this phone: the email's contact keeps its own phone"


def kept_phone_warning(phone: str) -> dict[str, str]:
    """What a sync says when the last row left the given phone out."""
    return {"field": "phone", "value": phone, "reason": KEPT_PHONE}
