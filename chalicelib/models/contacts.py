"""Contact items, their copies, tag counters and the hashes left by GDPR erasure.

A contact is stored once as the canonical `Contact` item and copied whole onto the items that
find it: its identity lookup (`ContactEmail` or `ContactPhone`), its search tokens
(`ContactSearch`) and its tag links (`ContactTag`). Every copy is rewritten in the same
transaction as the contact (chalicelib.contacts.store), so:

- a sync reads the contact it will update in the same BatchGetItem that resolves its email and
  phone (one read, no second GetItem);
- a search page, a tag page and a plain page are each one Query, with the other filters as a
  FilterExpression on the very same attribute names.

All of them share the attributes of `ContactData` (PynamoDB registers no discriminator for it,
so it is never instantiated from the table).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item

# A contact's own fields, named as stored and as on the wire: one list every module reads.
IDENTITY_FIELDS = ("email", "phone")
PROFILE_FIELDS = ("firstName", "lastName", "company", "title")
PERSONAL_FIELDS = (*IDENTITY_FIELDS, *PROFILE_FIELDS)  # what GDPR erasure removes
# A contact's consent to marketing email (docs/consent.md): {"status", "at", "source", "text"?,
# "ip"?}; the text and the IP are personal data, which GDPR erasure removes too.
CONSENT_STATUSES = ("NONE", "PENDING", "GRANTED", "WITHDRAWN")
CONSENT_PERSONAL = ("text", "ip")


class ContactData(Item):
    """The attributes of a contact, on the Contact item and on each of its copies."""

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    firstName = UnicodeAttribute(null=True)
    lastName = UnicodeAttribute(null=True)
    company = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    customFields: MapAttribute[str, Any] = MapAttribute(default=dict)
    # PynamoDB types ListAttribute(of=UnicodeAttribute) as list[UnicodeAttribute]: annotated list[str].
    tags: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    status = UnicodeAttribute(default="ACTIVE")
    statusReason = UnicodeAttribute(null=True)
    pipelineStage = UnicodeAttribute(default="LEAD")
    source = UnicodeAttribute(null=True)
    # Absent on contacts stored before consent was recorded: read as NONE (contacts.consent).
    consent: MapAttribute[str, Any] = MapAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    # Set by GDPR anonymisation: personal fields are gone, only keyed hashes remain.
    anonymizedAt = UnicodeAttribute(null=True)
    # The sum of the contact's live score awards (chalicelib.scoring): only ever moved by an ADD
    # in the award's own transaction, which also bumps `revision` (a sync that read the contact
    # before then fails its condition and reads again, so it never writes an old score back).
    score = NumberAttribute(default=0)
    # Set while the contact is archived: kept whole, but out of lists, searches and counts.
    archivedAt = UnicodeAttribute(null=True)
    # +1 on every write; writes are conditioned on it, so concurrent updates never lose one.
    revision = NumberAttribute(default=0)

    @property
    def contactId(self) -> str:
        """The contact's id (the same on the Contact item and on every copy)."""
        return self.id


class Contact(ContactData, discriminator="Contact"):
    """pk WS#<ws>, sk CONTACT#<id>.

    gsi1 WS#<ws>#CSTATUS#<status> / <id>: contacts by status.
    gsi2 WS#<ws>#CSTAGE#<stage> / <id>: contacts by pipeline stage.
    gsi3 WS#<ws>#CPHONE#<E.164> / <id>: the contacts that have this phone, with or without an
    email (the matching rules' "known phone"; PHONE# copies exist only for phone-only ones).
    gsi4 WS#<ws>#CLIST / <id>: the contacts list (no filter), or WS#<ws>#CARCHIVED / <id>
    while archived. An archived contact has no gsi1/gsi2 keys and no search or tag copies, so
    every list and search skips it by its keys alone (pages stay full); gsi3 and its identity
    lookup stay, so a sync still finds (and unarchives) it.

    `engagement` (this item only, never on a copy): the contact's engagement facts, the last
    time of each event kind for any campaign and for its 20 latest campaigns
    (chalicelib.contacts.engagement keeps them from the timeline's stream; the filters'
    engagement conditions read them, so evaluating a contact stays one read). The contact's
    own writes (chalicelib.contacts.store) are UpdateItems that never touch it.
    """

    engagement: MapAttribute[str, Any] = MapAttribute(null=True)

    @staticmethod
    def key(ws: str, contact_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"CONTACT#{contact_id}"

    @staticmethod
    def status_partition(ws: str, status: str) -> str:
        return f"{keys.workspace(ws)}#CSTATUS#{status}"

    @staticmethod
    def stage_partition(ws: str, stage: str) -> str:
        return f"{keys.workspace(ws)}#CSTAGE#{stage}"

    @staticmethod
    def list_partition(ws: str, archived: bool = False) -> str:
        return f"{keys.workspace(ws)}#{'CARCHIVED' if archived else 'CLIST'}"

    @staticmethod
    def phone_partition(ws: str, phone: str) -> str:
        return f"{keys.workspace(ws)}#CPHONE#{phone}"


class ContactEmail(ContactData, discriminator="ContactEmail"):
    """pk WS#<ws>, sk EMAIL#<lowercased email>: the one contact that has this email (a copy)."""

    @staticmethod
    def key(ws: str, email: str) -> tuple[str, str]:
        return keys.workspace(ws), f"EMAIL#{email}"


class ContactPhone(ContactData, discriminator="ContactPhone"):
    """pk WS#<ws>, sk PHONE#<E.164>: the one contact *without an email* that has this phone
    (a phone identifies only contacts that have no email; see the matching rules). A copy."""

    @staticmethod
    def key(ws: str, phone: str) -> tuple[str, str]:
        return keys.workspace(ws), f"PHONE#{phone}"


class ContactSearch(ContactData, discriminator="ContactSearch"):
    """pk WS#<ws>#SEARCH, sk <token>#<contact id>: one per search token of the contact (its
    normalised email, "first last", last name); `q` is a begins_with on sk. A copy."""

    @staticmethod
    def partition(ws: str) -> str:
        return f"{keys.workspace(ws)}#SEARCH"

    @classmethod
    def key(cls, ws: str, token: str, contact_id: str) -> tuple[str, str]:
        return cls.partition(ws), f"{token}#{contact_id}"


class ContactTag(ContactData, discriminator="ContactTag"):
    """pk WS#<ws>#TAG#<tag>, sk CONTACT#<contact id>: the contact carries this tag. A copy."""

    @staticmethod
    def partition(ws: str, tag: str) -> str:
        return f"{keys.workspace(ws)}#TAG#{tag}"

    @classmethod
    def key(cls, ws: str, tag: str, contact_id: str) -> tuple[str, str]:
        return cls.partition(ws, tag), f"CONTACT#{contact_id}"


class TagCount(Item, discriminator="Tag"):
    """pk WS#<ws>, sk TAG#<tag>: how many contacts carry the tag. Updated (ADD) in the same
    transactions that add or remove the tag links, so it is exact; 0 once unused."""

    name = UnicodeAttribute()
    contactCount = NumberAttribute(default=0)

    @staticmethod
    def key(ws: str, tag: str) -> tuple[str, str]:
        return keys.workspace(ws), f"TAG#{tag}"


class ErasedIdentity(Item, discriminator="ErasedIdentity"):
    """pk WS#<ws>, sk ERASED#<HMAC of kind:value>: a person erased under GDPR had this email or
    phone. Only the keyed hash is kept, so the same person is recognised, never re-imported."""

    erasedAt = UnicodeAttribute()

    @staticmethod
    def key(ws: str, digest: str) -> tuple[str, str]:
        return keys.workspace(ws), f"ERASED#{digest}"
