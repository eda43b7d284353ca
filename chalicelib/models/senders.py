"""Sender identities: which workspace may send as an address or a domain."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item


class SenderIdentity(Item, discriminator="SenderIdentity"):
    """pk SENDER#<identity>, sk #META; gsi1 WS#<ws>#SENDERS / SENDER#<id>; an address's gsi2
    SENDERDOMAIN#<its domain> / <address>.

    Keyed by the identity alone (an address or a domain, lower case) so that one workspace
    only can hold it: the claim is a conditional PutItem. Its status is SES's, read on demand.
    gsi2 finds the addresses claimed under a domain (a domain is refused to a workspace while
    another workspace holds one of its addresses, and the other way round).
    """

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    identity = UnicodeAttribute()
    kind = UnicodeAttribute()  # EMAIL_ADDRESS | DOMAIN, as SES names them
    createdAt = UnicodeAttribute()

    @staticmethod
    def key(identity: str) -> tuple[str, str]:
        return f"SENDER#{identity}", "#META"

    @staticmethod
    def list_partition(ws: str) -> str:
        return f"{keys.workspace(ws)}#SENDERS"

    @staticmethod
    def list_sort(sender_id: str) -> str:
        return f"SENDER#{sender_id}"

    @staticmethod
    def domain_partition(domain: str) -> str:
        return f"SENDERDOMAIN#{domain}"
