"""Group items, their unique names, and membership items."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.db import Item
from chalicelib.models import keys


class Group(Item, discriminator="Group"):
    """pk WS#<ws>, sk GROUP#<id>. Counters are kept by the stream handler."""

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    groupType = UnicodeAttribute(default="STATIC")  # STATIC | DYNAMIC
    color = UnicodeAttribute(null=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    totalContacts = NumberAttribute(default=0)
    activeContacts = NumberAttribute(default=0)

    @staticmethod
    def key(ws: str, group_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"GROUP#{group_id}"


class GroupName(Item, discriminator="GroupName"):
    """pk WS#<ws>, sk GROUPNAME#<casefolded name>: makes names unique per workspace."""

    groupId = UnicodeAttribute()

    @staticmethod
    def key(ws: str, name: str) -> tuple[str, str]:
        return keys.workspace(ws), f"GROUPNAME#{name.casefold()}"


class Membership(Item, discriminator="Membership"):
    """pk WS#<ws>#GROUP#<group>, sk MEMBER#<contact>; gsi1 WS#<ws>#CONTACT#<contact> / GROUP#<group>.

    The write of this item is the event: its stream record alone tells the workspace, group,
    group type (as it was when the contact joined) and contact.
    """

    workspaceId = UnicodeAttribute()
    groupId = UnicodeAttribute()
    groupType = UnicodeAttribute()
    contactId = UnicodeAttribute()
    joinedAt = UnicodeAttribute()

    @staticmethod
    def key(ws: str, group_id: str, contact_id: str) -> tuple[str, str]:
        return keys.group_partition(ws, group_id), f"MEMBER#{contact_id}"


class GroupEngagement(Item, discriminator="GroupEngagement"):
    """pk WS#<ws>#GROUP#<group>, sk #ENGAGEMENT: what campaigns add to a group's statistics.

    Written by the campaign engine (UpdateItem ADD/SET, created on first write), read with the
    Group item by the stats route: stats stay one BatchGetItem whatever the group's size.
    """

    linkedRunningCampaigns = NumberAttribute(default=0)
    lastCampaignSentAt = UnicodeAttribute(null=True)
    sent = NumberAttribute(default=0)
    delivered = NumberAttribute(default=0)
    opened = NumberAttribute(default=0)
    clicked = NumberAttribute(default=0)

    @staticmethod
    def key(ws: str, group_id: str) -> tuple[str, str]:
        return keys.group_partition(ws, group_id), "#ENGAGEMENT"
