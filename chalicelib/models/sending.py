"""Counters of emails sent per workspace, for the sending limits (chalicelib.deliverability.sending_limits)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item


class SendWindow(Item, discriminator="SendWindow"):
    """pk WS#<ws>#SENDS, sk DAY#<yyyy-mm-dd> | SEC#<epoch second>: sends reserved in that UTC
    day or second (UpdateItem ADD, which returns the new count). Expire by TTL."""

    reserved = NumberAttribute(default=0)

    @staticmethod
    def partition(ws: str) -> str:
        return f"{keys.workspace(ws)}#SENDS"
