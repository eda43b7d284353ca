"""Composing a campaign email: an email step's templates rendered with one contact's fields."""

from __future__ import annotations

from typing import Any

from chalicelib.models.campaigns import Campaign, StepMap
from chalicelib.models.contacts import PERSONAL_FIELDS, Contact
from chalicelib.platform import mailer
from chalicelib.schemas import templates


def merge_fields(contact: Contact) -> dict[str, Any]:
    """What a template may name of a contact (chalicelib.schemas.templates), as rendered in
    every email and preview."""
    fields: dict[str, Any] = {name: getattr(contact, name) for name in PERSONAL_FIELDS}
    fields["customFields"] = contact.customFields.as_dict() if contact.customFields else {}
    return fields


def compose(campaign: Campaign, step: StepMap, contact: Contact) -> mailer.Email:
    fields = merge_fields(contact)
    return mailer.Email(
        sender=campaign.fromEmail,
        to=str(contact.email),
        subject=templates.render(step.subject or "", fields, context="header"),
        text=templates.render(step.bodyText or "", fields),
        html=templates.render(step.bodyHtml, fields, context="html") if step.bodyHtml else None,
    )
