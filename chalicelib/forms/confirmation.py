"""Double opt-in: the confirmation email of a form's new lead, and the click that confirms it
(docs/consent.md).

A lead of a `doubleOptIn` form is stored UNCONFIRMED with a PENDING consent and gets ONE
email from the form's sender with a signed link (`/c/{token}`, chalicelib.platform.confirm_tokens,
good for 7 days). `GET /c/{token}` only shows a page with a button: link scanners follow GETs.
The button's `POST /c/{token}` confirms: the contact becomes ACTIVE with a GRANTED consent
(chalicelib.contacts.status.confirm), then joins the form's groups as any post of the form
does, which enrolls it in the campaigns of its dynamic groups (the stream's reaction).

Sending is guarded by a conditional write (ConfirmationSent: none yet, or the last over an
hour ago), so two posts of the form at once send one email, and posting again resends at most
once an hour. Confirming is idempotent: a confirmed contact is not written again, and joining
groups it is already in writes nothing.

Public:
- `send(form, contact) -> bool`: the confirmation email, unless one went within the hour
- `link(workspace_id, form_id, contact_id) -> str`
- `check(token) -> Confirmation`: 404 not ours, 410 expired (no DynamoDB request)
- `confirm(token, ip) -> Contact`: 404 / 410 as `check`, 404 for a contact gone
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.contacts import service as contacts
from chalicelib.contacts import status as contact_status
from chalicelib.deliverability import suppression
from chalicelib.forms.joining import join_groups
from chalicelib.models.contacts import Contact
from chalicelib.models.forms import ConfirmationSent, Form
from chalicelib.platform import clock, config, confirm_tokens, mailer
from chalicelib.platform.confirm_tokens import Confirmation
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import Gone, NotFound
from chalicelib.platform.logs import logger
from chalicelib.schemas.forms import DEFAULT_CONFIRM_SUBJECT, DEFAULT_CONFIRM_TEXT

RESEND_AFTER = timedelta(hours=1)


def link(workspace_id: str, form_id: str, contact_id: str) -> str:
    token = confirm_tokens.mint(workspace_id, form_id, contact_id, clock.now())
    return f"{config.public_base_url()}/c/{token}"


def send(form: Form, contact: Contact) -> bool:
    """Send the confirmation email to this UNCONFIRMED lead of `form`; False when none was
    sent (one went within the hour, the address is suppressed, SES refused it)."""
    address = contact.email
    if not address or not form.fromEmail:
        return False
    reason = suppression.is_suppressed(form.workspaceId, address)
    if reason:
        logger.info("confirmation not sent: suppressed", extra={"contact_id": contact.id, "reason": reason})
        return False
    sent_at = clock.now()
    if not _claim(form, contact.id, sent_at):
        return False
    body = form.confirmBodyText or DEFAULT_CONFIRM_TEXT
    email = mailer.Email(
        sender=form.fromEmail,
        to=address,
        subject=form.confirmSubject or DEFAULT_CONFIRM_SUBJECT,
        text=f"{body}\n\n{link(form.workspaceId, form.id, contact.id)}\n",
    )
    try:
        mailer.send(email)
    except Exception as error:
        if mailer.surely_not_sent(error):
            # Nothing went: the next post of the form may try again at once.
            _release(form.workspaceId, contact.id, clock.iso(sent_at))
            logger.warning(
                "confirmation email refused", extra={"contact_id": contact.id, "error": str(error)}
            )
            return False
        raise
    return True


def _claim(form: Form, contact_id: str, now: Any) -> bool:
    """The right to send now: no confirmation went to this contact within the hour. One
    conditional PutItem; two posts at once cannot both win it."""
    item = ConfirmationSent(
        *ConfirmationSent.key(form.workspaceId, contact_id),
        formId=form.id,
        sentAt=clock.iso(now),
        ttl=now + confirm_tokens.VALIDITY,
    )
    earlier = clock.iso(now - RESEND_AFTER)
    try:
        item.save(condition=ConfirmationSent.pk.does_not_exist() | (ConfirmationSent.sentAt <= earlier))
    except PutError as error:
        if is_conditional_failure(error):
            logger.info("confirmation already sent within the hour", extra={"contact_id": contact_id})
            return False
        raise
    return True


def _release(workspace_id: str, contact_id: str, sent_at: str) -> None:
    try:
        ConfirmationSent(*ConfirmationSent.key(workspace_id, contact_id)).delete(
            condition=ConfirmationSent.sentAt == sent_at
        )
    except DeleteError as error:
        if not is_conditional_failure(error):
            raise


def check(token: str) -> Confirmation:
    found = confirm_tokens.read(token)
    if found is None:
        raise NotFound("this confirmation link is not valid")
    if found.expired(clock.now()):
        raise Gone("this confirmation link has expired: send the form again to get a new one")
    return found


def status_of(found: Confirmation) -> str:
    """The status of the lead a good link names (one read): the page it shows depends on it."""
    return str(contacts.get(found.workspace_id, found.contact_id).status)


def confirm(token: str, ip: str | None) -> Contact:
    """Confirm the lead the link names; its state after. A contact that unsubscribed or was
    blocked since keeps its status (the caller tells the visitor)."""
    found = check(token)
    contact = contact_status.confirm(found.workspace_id, found.contact_id, f"form:{found.form_id}", ip)
    if contact is None:
        raise NotFound("this confirmation link is not valid")
    if contact.status == "ACTIVE":
        _join_groups(found, contact)
    return contact


def _join_groups(found: Confirmation, contact: Contact) -> None:
    try:
        form = Form.get(*Form.key(found.form_id), consistent_read=True)
    except Form.DoesNotExist:  # deleted since: the lead is confirmed, there is nothing to join
        logger.info("confirmed lead of a deleted form", extra={"form_id": found.form_id})
        return
    if form.workspaceId == found.workspace_id:
        join_groups(form, contact)
