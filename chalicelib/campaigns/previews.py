"""A campaign email before it goes out: its preview, and test sends.

Both render one email step for a contact of the workspace (or sample data) and decorate it as
the step runner's email would be (chalicelib.deliverability.email_links: click links,
unsubscribe link and headers, open pixel), so the links are the ones that would go out. Their
tokens name the test contact (`tracking.TEST_CONTACT_ID`), never the real one: a click on them
redirects without counting, an unsubscribe link unsubscribes nobody. A test send is never an
enrollment, never recorded on a timeline, never counted in the campaign's statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.campaigns import compose, eligibility
from chalicelib.campaigns import service as campaigns
from chalicelib.deliverability import email_links, senders, suppression, tracking
from chalicelib.models.campaigns import Campaign, StepMap
from chalicelib.models.contacts import Contact, ContactEmail
from chalicelib.platform import ids, mailer
from chalicelib.platform.errors import NotFound, ValidationFailed, field_error
from chalicelib.platform.link_tokens import Target
from chalicelib.schemas import templates

TEST_PREFIX = "[TEST] "
MAX_RECIPIENTS = 5
# What a step renders with when no contact is named.
SAMPLE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "company": "Analytical Engines",
    "title": "Engineer",
    "email": "ada@example.com",
    "phone": "+442079460000",
    "customFields": {},
}


_REFUSED = {
    eligibility.Ineligible.UNSUBSCRIBED,
    eligibility.Ineligible.BOUNCED,
    eligibility.Ineligible.BLOCKED,
}


@dataclass(frozen=True)
class Rendered:
    step_id: str
    contact_id: str | None
    email: mailer.Email


def campaign(ws: str, campaign_id: str) -> Campaign:
    """The workspace's campaign (404 otherwise): read before the body is, so that another
    workspace's id is a 404 whatever the body."""
    return campaigns.get(ws, campaign_id)


def render(ws: str, campaign: Campaign, step_id: str | None, contact_id: str | None) -> Rendered:
    """The step (the campaign's first email step when none is named) as it would go out."""
    step = _email_step(campaign, step_id)
    fields: dict[str, Any] = dict(SAMPLE)
    to = str(SAMPLE["email"])
    if contact_id is not None:
        contact = _contact(ws, contact_id)
        fields = _fields(contact)
        to = str(contact.email or to)
    email = mailer.Email(
        sender=campaign.fromEmail,
        to=to,
        subject=templates.render(step.subject or "", fields, context="header"),
        text=templates.render(step.bodyText or "", fields),
        html=templates.render(step.bodyHtml, fields, context="html") if step.bodyHtml else None,
    )
    target = Target(ws, campaign.id, tracking.TEST_CONTACT_ID, 1, str(step.id), None)
    return Rendered(str(step.id), contact_id, email_links.decorate(email, target).email)


def send_test(
    ws: str, campaign: Campaign, to: list[str], step_id: str | None, contact_id: str | None
) -> tuple[Rendered, list[dict[str, str]]]:
    """Send the rendered step to each address, subject prefixed [TEST]. 422 when an address
    is suppressed (or a contact that may not be emailed), or when the campaign's fromEmail
    is not a verified identity of the workspace; nothing is sent then."""
    _check_recipients(ws, to)
    rendered = render(ws, campaign, step_id, contact_id)
    senders.require_verified(ws, rendered.email.sender)
    sent = []
    # Each its own Message-ID (the mailer makes one): a reply to a test matches no email.
    headers = {k: v for k, v in rendered.email.headers.items() if k != "Message-ID"}
    for address in to:
        email = replace(
            rendered.email,
            to=address,
            subject=TEST_PREFIX + rendered.email.subject,
            headers={**headers, "X-Cohort-Test": "true"},
        )
        sent.append({"to": address, "messageId": mailer.send(email)})
    return rendered, sent


def _check_recipients(ws: str, to: list[str]) -> None:
    if len(to) > MAX_RECIPIENTS:
        raise field_error("to", f"at most {MAX_RECIPIENTS} addresses")
    reasons = suppression.suppressed(ws, to)
    # A contact of the workspace with this address who may not be emailed (unsubscribed...).
    for copy in ContactEmail.batch_get([ContactEmail.key(ws, address.lower()) for address in to]):
        why = eligibility.reason(copy.attribute_values, missing=eligibility.Ineligible.CONTACT_NOT_FOUND)
        if why in _REFUSED:
            reasons.setdefault(str(copy.email), str(why))
    refused = [
        {"field": "to", "value": address, "message": f"{address} is suppressed ({reasons[found]})"}
        for address in to
        for found in [next((k for k in reasons if k.lower() == address.lower()), None)]
        if found is not None
    ]
    if refused:
        raise ValidationFailed(f"to: {refused[0]['message']}; nothing was sent", refused)


def _email_step(campaign: Campaign, step_id: str | None) -> StepMap:
    steps = list(campaign.steps)
    if step_id is None:
        first = next((s for s in steps if s.type == "email"), None)
        if first is None:
            raise field_error("stepId", "the campaign has no email step")
        return first
    step = next((s for s in steps if s.id == step_id), None)
    if step is None:
        raise NotFound("step not found")
    if step.type != "email":
        raise field_error("stepId", "a wait step has no email: name an email step")
    return step


def _contact(ws: str, contact_id: str) -> Contact:
    if not ids.is_id(contact_id):
        raise NotFound("contact not found")
    try:
        return Contact.get(*Contact.key(ws, contact_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound("contact not found") from None


def _fields(contact: Contact) -> dict[str, Any]:
    return compose.merge_fields(contact)
