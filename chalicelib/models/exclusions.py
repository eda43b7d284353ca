"""The suppression list: addresses and whole domains a workspace never emails."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item

PREFIX = "EXCL#"


class Exclusion(Item, discriminator="Exclusion"):
    """pk WS#<ws>, sk EXCL#<value>: `value` is a lowercased address (person@x.com) or a
    domain with its @ (@x.com). Keyed by value, so checking an address is a key lookup."""

    value = UnicodeAttribute()
    kind = UnicodeAttribute()  # address | domain
    createdAt = UnicodeAttribute()

    @staticmethod
    def key(ws: str, value: str) -> tuple[str, str]:
        return keys.workspace(ws), f"{PREFIX}{value}"
