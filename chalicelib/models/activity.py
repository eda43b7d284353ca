"""A contact's timeline (Activity) and the lookup from a sent email's Message-ID (MessageRef)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item


class Activity(Item, discriminator="Activity"):
    """pk WS#<ws>#ACTIVITY#<contact>, sk <KIND>#<what it is about>; gsi1 the same partition /
    <at>#<sk>.

    The sk is deterministic (chalicelib.contacts.activity builds it), so writing an event twice is
    one item, and a conditional put is the "counted once" test of opens, clicks, replies...
    gsi1 orders the partition by time: the timeline is one Query, newest first.

    The `emailSent` item of an email is also what its links point at: a tracking token is
    honoured only while it exists, and SES notifications mark it (deliveredAt, bouncedAt...).
    """

    workspaceId = UnicodeAttribute()
    contactId = UnicodeAttribute()
    kind = UnicodeAttribute()  # joinedGroup | enrolled | emailSent | ... | consentGiven | ...
    at = UnicodeAttribute()
    campaignId = UnicodeAttribute(null=True)
    groupId = UnicodeAttribute(null=True)
    stepId = UnicodeAttribute(null=True)
    run = NumberAttribute(null=True)
    subject = UnicodeAttribute(null=True)  # the step's subject as written (not personalised)
    url = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)
    messageId = UnicodeAttribute(null=True)
    sesMessageId = UnicodeAttribute(null=True)
    deliveredAt = UnicodeAttribute(null=True)
    bouncedAt = UnicodeAttribute(null=True)
    complainedAt = UnicodeAttribute(null=True)
    repliedAt = UnicodeAttribute(null=True)  # the first reply: `replied` counts emails, not replies
    text = UnicodeAttribute(null=True)  # consent entries: what the person agreed to
    ip = UnicodeAttribute(null=True)  # consent entries: where from

    @staticmethod
    def partition(ws: str, contact_id: str) -> str:
        return f"{keys.workspace(ws)}#ACTIVITY#{contact_id}"


class MessageRef(Item, discriminator="MessageRef"):
    """pk MSG#<Message-ID without brackets, or SES's MessageId>, sk #REF: which email of which
    enrollment this is. SES notifications name the SES MessageId; a reply's In-Reply-To and
    References name the Message-ID (SES may replace ours with <SES id@...amazonses.com>, so
    both are kept). Neither knows the workspace, hence a global partition. TTL: a year."""

    workspaceId = UnicodeAttribute()
    contactId = UnicodeAttribute()
    campaignId = UnicodeAttribute()
    run = NumberAttribute()
    stepId = UnicodeAttribute()
    groupId = UnicodeAttribute(null=True)

    @staticmethod
    def key(message_id: str) -> tuple[str, str]:
        return f"MSG#{message_id}", "#REF"
