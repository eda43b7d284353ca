"""Contact items and the lookup items that make email and phone unique per workspace."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db import Item
from chalicelib.models import keys


class Contact(Item, discriminator="Contact"):
    """pk WS#<ws>, sk CONTACT#<id>.

    gsi1 WS#<ws>#CSTATUS#<status> / <id>: contacts by status.
    gsi2 WS#<ws>#CSTAGE#<stage> / <id>: contacts by pipeline stage.
    """

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    firstName = UnicodeAttribute(null=True)
    lastName = UnicodeAttribute(null=True)
    company = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    customFields = MapAttribute(default=dict)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    status = UnicodeAttribute(default="ACTIVE")
    pipelineStage = UnicodeAttribute(default="LEAD")
    source = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    # Set by GDPR anonymisation: personal fields are gone, only keyed hashes remain.
    anonymizedAt = UnicodeAttribute(null=True)
    revision = NumberAttribute(default=0)

    @staticmethod
    def key(ws: str, contact_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"CONTACT#{contact_id}"


class ContactEmail(Item, discriminator="ContactEmail"):
    """pk WS#<ws>, sk EMAIL#<lowercased email>: the one contact that has this email."""

    contactId = UnicodeAttribute()

    @staticmethod
    def key(ws: str, email: str) -> tuple[str, str]:
        return keys.workspace(ws), f"EMAIL#{email}"


class ContactPhone(Item, discriminator="ContactPhone"):
    """pk WS#<ws>, sk PHONE#<E.164>: the one contact *without an email* that has this phone
    (a phone identifies only contacts that have no email; see the matching rules)."""

    contactId = UnicodeAttribute()

    @staticmethod
    def key(ws: str, phone: str) -> tuple[str, str]:
        return keys.workspace(ws), f"PHONE#{phone}"
