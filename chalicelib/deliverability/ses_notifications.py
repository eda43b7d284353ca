"""SES notifications (through SNS): bounces, complaints, deliveries and received mail.

- permanent bounce → the contact becomes BOUNCED (`bounced` counted); a transient or
  undetermined bounce is counted (`softBounced`) and changes nothing else;
- complaint → UNSUBSCRIBED (`complained` and `unsubscribed` counted);
- delivery → `delivered` counted (per campaign and group, and on the group's engagement);
- received mail (a receipt rule's SNS action): a reply is matched to the email it answers
  through In-Reply-To/References (the Message-ID we stored when sending, or SES's own) and
  the contact becomes REPLIED, which stops its sequences; a mail whose subject carries an
  unsubscribe token (the List-Unsubscribe mailto) unsubscribes; auto-replies are ignored.

Each event is recorded with its counters in one transaction that is a no-op the second time
(chalicelib.deliverability.engagement), and the status change after it is idempotent: redelivery (SNS
retries, Lambda retries) changes nothing more. A record that is not from the configured topic
(COHORT_SES_TOPIC_ARN) or is not a valid SES notification is logged and ignored. A DynamoDB
failure raises, so Lambda retries the delivery.

Entry point: `handle(event) -> dict` (outcome -> count), called by app.py's SNS handler.
"""

from __future__ import annotations

import base64
import os
import re
from collections import Counter
from collections.abc import Callable
from email.message import Message
from typing import Any

from chalicelib.contacts import activity
from chalicelib.contacts import status as contact_status
from chalicelib.deliverability import unsubscribe
from chalicelib.deliverability.engagement import Email, Outcome, count_once
from chalicelib.models.activity import MessageRef
from chalicelib.platform import link_tokens
from chalicelib.platform.db import Item
from chalicelib.platform.errors import NotFound
from chalicelib.platform.logs import logger

TOPIC_VARIABLE = "COHORT_SES_TOPIC_ARN"
IGNORED, UNMATCHED, RECORDED = "ignored", "unmatched", "recorded"
MAX_REFERENCES = 20
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,400})>")
_UNSUBSCRIBE_SUBJECT = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_-]{40,})")
# RFC 3834 and the common vendor headers of vacation and out-of-office messages.
_AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk", "list"})
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond")


def handle(event: dict[str, Any]) -> dict[str, int]:
    outcomes: Counter[str] = Counter()
    for record in event.get("Records") or []:
        outcomes[process(record)] += 1
    return dict(outcomes)


def process(record: Any) -> str:
    sns = record.get("Sns") if isinstance(record, dict) else None
    expected = os.environ.get(TOPIC_VARIABLE)
    topic = sns.get("TopicArn") if isinstance(sns, dict) else None
    if not expected or topic != expected:
        logger.warning(
            "SNS message ignored: not from the configured SES topic",
            extra={"topic": topic, "expected": expected, "message_id": (sns or {}).get("MessageId")},
        )
        return IGNORED
    assert isinstance(sns, dict)
    notification = parse(sns.get("Message"))
    if notification is None:
        logger.warning(
            "SNS message ignored: not a valid SES notification", extra={"message_id": sns.get("MessageId")}
        )
        return IGNORED
    handler = _HANDLERS.get(notification.kind)
    if handler is None:
        logger.info("SES notification type not handled", extra={"type": notification.kind})
        return IGNORED
    return handler(notification)


def parse(message: Any) -> Any:
    """The SES notification in an SNS Message (a JSON string), or None."""
    from pydantic import ValidationError

    from chalicelib.schemas.ses import Notification

    if not isinstance(message, str):
        return None
    try:
        return Notification.model_validate_json(message)
    except ValidationError as error:
        logger.info("invalid SES notification", extra={"errors": error.errors(include_url=False)[:5]})
        return None


# ---- bounces, complaints, deliveries ----------------------------------------------------


def email_for(message_ids: list[str]) -> Email | None:
    """The sent email that any of these ids names (the first that matches), one BatchGetItem."""
    if not message_ids:
        return None
    keys = [MessageRef.key(message_id) for message_id in dict.fromkeys(message_ids)]
    found = {(ref.pk, ref.sk): ref for ref in Item.batch_get(keys) if isinstance(ref, MessageRef)}
    for key in keys:
        ref = found.get(key)
        if ref is not None:
            return Email(
                workspace_id=ref.workspaceId,
                contact_id=ref.contactId,
                campaign_id=ref.campaignId,
                run=int(ref.run),
                step_id=ref.stepId,
                group_id=ref.groupId,
            )
    return None


def _sent_email(notification: Any) -> Email | None:
    email = email_for([notification.mail.message_id])
    if email is None:
        logger.info(
            "SES notification for an email we have no record of",
            extra={"type": notification.kind, "ses_message_id": notification.mail.message_id},
        )
    return email


def _event(email: Email, kind: str, sk: str, **fields: Any) -> Any:
    return activity.item(
        email.workspace_id,
        email.contact_id,
        kind,
        sk,
        campaignId=email.campaign_id,
        groupId=email.group_id,
        stepId=email.step_id,
        run=email.run,
        **fields,
    )


def on_bounce(notification: Any) -> str:
    email = _sent_email(notification)
    if email is None:
        return UNMATCHED
    bounce = notification.bounce
    recipient = bounce.bounced_recipients[0]
    detail = (recipient.diagnostic_code or recipient.status or bounce.bounce_sub_type or "")[:500]
    message_id = notification.mail.message_id
    if bounce.bounce_type != "Permanent":
        # Transient (mailbox full, greylisting...) or undetermined: counted, never fatal.
        dedup = bounce.feedback_id or f"{message_id}#{bounce.timestamp}"
        event = _event(email, activity.BOUNCED, f"BOUNCED#{dedup}", source=bounce.bounce_type, reason=detail)
        count_once(email, event=event, counters=["softBounced"])
        return RECORDED
    event = _event(email, activity.BOUNCED, f"BOUNCED#{message_id}", source="Permanent", reason=detail)
    count_once(email, event=event, stamp="bouncedAt", counters=["bounced"])
    # Also when already recorded: a delivery that crashed before this line is completed now.
    contact_status.raise_to(
        email.workspace_id, email.contact_id, "BOUNCED", _why("hard bounce", recipient.status)
    )
    return RECORDED


def on_complaint(notification: Any) -> str:
    email = _sent_email(notification)
    if email is None:
        return UNMATCHED
    kind = notification.complaint.complaint_feedback_type
    count_once(email, stamp="complainedAt", counters=["complained"])
    unsubscribe.record(email, _why(unsubscribe.COMPLAINT, kind))  # once per email, with the link's
    contact_status.raise_to(email.workspace_id, email.contact_id, "UNSUBSCRIBED", unsubscribe.COMPLAINT)
    return RECORDED


def on_delivery(notification: Any) -> str:
    email = _sent_email(notification)
    if email is None:
        return UNMATCHED
    count_once(email, stamp="deliveredAt", counters=["delivered"])
    return RECORDED


def _why(what: str, detail: str | None) -> str:
    return f"{what} ({detail})" if detail else what


# ---- received mail: replies and mailto unsubscribes -------------------------------------


def on_received(notification: Any) -> str:
    headers = _headers(notification)
    token = _unsubscribe_token(headers.get("Subject") or "")
    if token is not None:
        try:
            unsubscribe.unsubscribe(token, unsubscribe.MAILTO)
        except NotFound:
            logger.info("unsubscribe mail with a token that is not valid")
            return IGNORED
        return RECORDED
    if _is_automatic(headers, notification):
        logger.info("auto-reply ignored", extra={"ses_message_id": notification.mail.message_id})
        return IGNORED
    email = email_for(_referenced_ids(headers))
    if email is None:
        logger.info(
            "received mail that answers none of our emails", extra={"id": notification.mail.message_id}
        )
        return UNMATCHED
    event = _event(email, activity.REPLIED, f"REPLIED#{notification.mail.message_id}")
    if count_once(email, event=event) is Outcome.UNKNOWN_EMAIL:
        return UNMATCHED  # the email's record is gone (the contact was erased)
    # Each reply is on the timeline; `replied` counts the email once, so replyRate <= 100 %.
    count_once(email, stamp="repliedAt", counters=["replied"])
    contact_status.raise_to(email.workspace_id, email.contact_id, "REPLIED", "reply")
    return RECORDED


def _headers(notification: Any) -> Message:
    """The mail's headers: parsed from the content when SES sent it (complete), else the
    list in `mail.headers` (which SES may truncate)."""
    from email import message_from_bytes
    from email.message import Message as Headers
    from email.policy import default

    content = notification.content
    if content:
        encoding = str((notification.receipt.action if notification.receipt else {}).get("encoding", "UTF8"))
        try:
            raw = base64.b64decode(content) if encoding.upper() == "BASE64" else content.encode()
            return message_from_bytes(raw, policy=default)
        except (ValueError, TypeError):
            logger.info("received mail content not readable; using the headers list")
    headers = Headers(policy=default)
    for header in notification.mail.headers:
        headers[header.name] = header.value
    return headers


def _referenced_ids(headers: Message) -> list[str]:
    """Ids the mail answers, most recent first (In-Reply-To, then References from the end),
    each also as SES's bare MessageId when SES wrote the Message-ID (<id@...amazonses.com>)."""
    found: list[str] = []
    found += _MESSAGE_ID.findall(str(headers.get("In-Reply-To") or ""))
    found += reversed(_MESSAGE_ID.findall(str(headers.get("References") or "")))
    candidates: list[str] = []
    for message_id in list(dict.fromkeys(found))[:MAX_REFERENCES]:
        candidates.append(message_id)
        local, _, domain = message_id.rpartition("@")
        if local and domain.lower().endswith("amazonses.com"):
            candidates.append(local)
    return candidates


def _unsubscribe_token(subject: str) -> str | None:
    match = _UNSUBSCRIBE_SUBJECT.search(str(subject))
    if match and link_tokens.read(match.group(1), link_tokens.UNSUBSCRIBE) is not None:
        return match.group(1)
    return None


def _is_automatic(headers: Message, notification: Any) -> bool:
    auto = str(headers.get("Auto-Submitted") or "no").strip().lower()
    precedence = str(headers.get("Precedence") or "").strip().lower()
    return (
        auto != "no"
        or precedence in _AUTO_PRECEDENCE
        or any(headers.get(name) for name in _AUTO_HEADERS)
        or not notification.mail.source  # bounces of bounces: an empty envelope sender
    )


_HANDLERS: dict[str, Callable[[Any], str]] = {
    "Bounce": on_bounce,
    "Complaint": on_complaint,
    "Delivery": on_delivery,
    "Received": on_received,
}
