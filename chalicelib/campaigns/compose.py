"""Composing a campaign email: an email step's templates rendered with one contact's fields."""

from __future__ import annotations

from chalicelib.models.campaigns import Campaign, StepMap
from chalicelib.models.contacts import Contact
from chalicelib.platform import mailer
from chalicelib.schemas import templates


def compose(campaign: Campaign, step: StepMap, contact: Contact) -> mailer.Email:
    fields = {
        "firstName": contact.firstName,
        "lastName": contact.lastName,
        "company": contact.company,
        "title": contact.title,
        "email": contact.email,
        "phone": contact.phone,
        "customFields": contact.customFields.as_dict() if contact.customFields else {},
    }
    return mailer.Email(
        sender=campaign.fromEmail,
        to=str(contact.email),
        subject=templates.render(step.subject or "", fields, context="header"),
        text=templates.render(step.bodyText or "", fields),
        html=templates.render(step.bodyHtml, fields, context="html") if step.bodyHtml else None,
    )
