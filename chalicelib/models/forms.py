"""Lead-form items: what a public form does with what it receives (tags, groups, redirect)."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, UnicodeAttribute

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
    groupIds = ListAttribute(of=UnicodeAttribute, default=list)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    redirectUrl = UnicodeAttribute(null=True)
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
