"""Custom field definitions: what keys a contact's customFields may hold, and their types."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, UnicodeAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item


class FieldDefinition(Item, discriminator="FieldDefinition"):
    """pk WS#<ws>, sk FIELD#<key>. Created once (attribute_not_exists), so a key keeps its type."""

    key_name = UnicodeAttribute(attr_name="key")
    label = UnicodeAttribute()
    fieldType = UnicodeAttribute()  # text | number | date | boolean | select | url
    options = ListAttribute(of=UnicodeAttribute, null=True)  # select only
    createdAt = UnicodeAttribute()

    @staticmethod
    def key(ws: str, field_key: str) -> tuple[str, str]:
        return keys.workspace(ws), f"FIELD#{field_key}"
