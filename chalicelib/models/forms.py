"""Lead-form items: what a public form does with what it receives (tags, groups, redirect)."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, ListAttribute, UnicodeAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item


class Form(Item, discriminator="Form"):
    """pk FORM#<id>, sk #META; gsi1 WS#<ws>#FORMS / FORM#<id>.

    Keyed by its id alone because the public page and its posts know nothing but the id (no
    API key, so no workspace): one strongly consistent GetItem finds it, and `workspaceId`
    says whose it is. The workspace's list of forms is one Query on gsi1.
    """

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    name = UnicodeAttribute()
    # PynamoDB types ListAttribute(of=UnicodeAttribute) as list[UnicodeAttribute]: annotated list[str].
    groupIds: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    tags: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    redirectUrl = UnicodeAttribute(null=True)
    # What the page says the visitor agrees to: recorded with the consent of every lead.
    consentText = UnicodeAttribute(null=True)
    # Double opt-in (docs/consent.md): a new lead is UNCONFIRMED until it clicks the link of
    # the one email sent from `fromEmail` with this subject and text.
    doubleOptIn = BooleanAttribute(null=True)
    fromEmail = UnicodeAttribute(null=True)
    confirmSubject = UnicodeAttribute(null=True)
    confirmBodyText = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()

    @staticmethod
    def key(form_id: str) -> tuple[str, str]:
        return f"FORM#{form_id}", "#META"

    @staticmethod
    def list_partition(ws: str) -> str:
        return f"{keys.workspace(ws)}#FORMS"

    @staticmethod
    def list_sort(form_id: str) -> str:
        return f"FORM#{form_id}"


class ConfirmationSent(Item, discriminator="ConfirmationSent"):
    """pk WS#<ws>, sk OPTIN#<contact id>: when the last confirmation email went to this
    contact, and for which form. Written with a condition (none yet, or the last one over an
    hour ago) before each send, so two posts of a form at once send one email, and a visitor
    posting again gets at most one more an hour. TTL: the link's 7 days."""

    formId = UnicodeAttribute()
    sentAt = UnicodeAttribute()

    @staticmethod
    def key(ws: str, contact_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"OPTIN#{contact_id}"
