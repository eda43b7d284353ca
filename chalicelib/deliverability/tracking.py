"""Opens and clicks, and the record of each email sent that they point back to.

An open (the pixel) or a click counts once per (enrollment, step): the first one puts the
timeline item and adds to the campaign's and the group's counters in one TransactWriteItems
(chalicelib.deliverability.engagement); any later one is a cancelled transaction. One DynamoDB request per
open or click, counters included. A click redirects to the URL signed into its token, never
to anything the request says.

Public:
- `opened(token) -> None` and `clicked(token) -> str` (the URL): NotFound for a bad token
- `record_sent(target, message_id, subject, at=None) -> None`, before the send
- `record_ses_id(target, message_id, ses_message_id, subject, at) -> None`, after it
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib.contacts import activity
from chalicelib.deliverability.engagement import Email, Outcome, count_once
from chalicelib.models.activity import Activity, MessageRef
from chalicelib.platform import clock, link_tokens
from chalicelib.platform.db import Item
from chalicelib.platform.errors import NotFound
from chalicelib.platform.link_tokens import Target
from chalicelib.platform.logs import logger

REF_TTL_DAYS = 365


def email_of(target: Target) -> Email:
    return Email(
        workspace_id=target.workspace_id,
        contact_id=target.contact_id,
        campaign_id=target.campaign_id,
        run=target.run,
        step_id=target.step_id,
        group_id=target.group_id,
    )


# The contact that the links of previews and test sends name (chalicelib/campaigns/previews.py):
# they work (a click redirects) but count nothing, and unsubscribe nobody.
TEST_CONTACT_ID = "0" * 26


def read_link(token: str, kind: str) -> link_tokens.Link:
    link = link_tokens.read(token, kind)
    if link is None:
        raise NotFound("link not found")
    return link


def opened(token: str) -> None:
    link = read_link(token, link_tokens.OPEN)
    if link.target.contact_id != TEST_CONTACT_ID:
        _count(link, activity.OPENED, "opened")


def clicked(token: str) -> str:
    link = read_link(token, link_tokens.CLICK)
    if link.target.contact_id != TEST_CONTACT_ID:
        _count(link, activity.CLICKED, "clicked")
    assert link.url is not None
    return link.url


def _count(link: link_tokens.Link, kind: str, counter: str) -> None:
    target = link.target
    event = activity.item(
        target.workspace_id,
        target.contact_id,
        kind,
        activity.per_email_sk(kind, target.campaign_id, target.run, target.step_id),
        campaignId=target.campaign_id,
        groupId=target.group_id,
        stepId=target.step_id,
        run=target.run,
        url=link.url,
    )
    outcome = count_once(email_of(target), event=event, counters=[counter])
    if outcome is Outcome.UNKNOWN_EMAIL:
        # Signed by us but its email is gone (erased contact) or never was (another workspace).
        raise NotFound("link not found")


# ---- the record of a sent email ---------------------------------------------------------


def _sent_item(target: Target, message_id: str, subject: str | None, at: str, ses_id: str | None) -> Activity:
    return activity.item(
        target.workspace_id,
        target.contact_id,
        activity.EMAIL_SENT,
        activity.email_sk(target.campaign_id, target.run, target.step_id),
        at,
        campaignId=target.campaign_id,
        groupId=target.group_id,
        stepId=target.step_id,
        run=target.run,
        subject=subject,
        messageId=message_id,
        sesMessageId=ses_id,
    )


def _ref(target: Target, message_id: str) -> MessageRef:
    # Keyed by the bare id: replies quote it as <id>, SES notifications name it without.
    ref = MessageRef(
        *MessageRef.key(message_id.strip().strip("<>")),
        workspaceId=target.workspace_id,
        contactId=target.contact_id,
        campaignId=target.campaign_id,
        run=target.run,
        stepId=target.step_id,
        groupId=target.group_id,
    )
    ref.ttl = timedelta(days=REF_TTL_DAYS)
    return ref


def record_sent(target: Target, message_id: str, subject: str | None, at: str | None = None) -> str:
    """Before the send: the emailSent item (what the links point at) and the lookup of its
    Message-ID (replies), in one BatchWriteItem. Returns the time recorded."""
    moment = at or clock.now_iso()
    with Item.batch_write() as batch:
        batch.save(_sent_item(target, message_id, subject, moment, None))
        batch.save(_ref(target, message_id))
    return moment


def record_ses_id(target: Target, message_id: str, ses_message_id: str, subject: str | None, at: str) -> None:
    """After the send: the lookup by SES's MessageId (bounces, deliveries, complaints) and the
    id on the emailSent item, in one BatchWriteItem (a notification needs the lookup first,
    so nothing can have stamped the item in between)."""
    try:
        with Item.batch_write() as batch:
            batch.save(_sent_item(target, message_id, subject, at, ses_message_id))
            batch.save(_ref(target, ses_message_id))
    except Exception:
        # The email is out; losing this lookup only loses its SES notifications.
        logger.exception("could not record the SES message id", extra={"ses_message_id": ses_message_id})
