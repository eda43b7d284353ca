"""Group items, their unique names, membership items, and the bookkeeping of group counters."""

from __future__ import annotations

import zlib

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item


class Group(Item, discriminator="Group"):
    """pk WS#<ws>, sk GROUP#<id>. Counters are kept by the stream handler (chalicelib.groups.stats)."""

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
    # When the stream handler last applied a counter change (the recount compares against it).
    countedAt = UnicodeAttribute(null=True)
    # A rule group (chalicelib.segments.membership): its filter as JSON, BUILDING while the
    # existing contacts are evaluated (the build `rulesBuild`), then READY.
    rules = UnicodeAttribute(null=True)
    membershipStatus = UnicodeAttribute(null=True)
    rulesBuild = UnicodeAttribute(null=True)

    @staticmethod
    def key(ws: str, group_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"GROUP#{group_id}"


class RuleGroup(Item, discriminator="RuleGroup"):
    """pk WS#<ws>#RULEGROUPS, sk GROUP#<id>: the workspace's rule groups, one Query for the
    stream to evaluate a changed contact against all of them (written with the group)."""

    groupId = UnicodeAttribute()
    groupType = UnicodeAttribute()
    rules = UnicodeAttribute()

    @staticmethod
    def partition(ws: str) -> str:
        return f"{keys.workspace(ws)}#RULEGROUPS"

    @staticmethod
    def key(ws: str, group_id: str) -> tuple[str, str]:
        return RuleGroup.partition(ws), f"GROUP#{group_id}"


class GroupName(Item, discriminator="GroupName"):
    """pk WS#<ws>, sk GROUPNAME#<casefolded name>: makes names unique per workspace."""

    groupId = UnicodeAttribute()

    @staticmethod
    def key(ws: str, name: str) -> tuple[str, str]:
        return keys.workspace(ws), f"GROUPNAME#{name.casefold()}"


class Membership(Item, discriminator="Membership"):
    """pk WS#<ws>#GROUP#<group>, sk MEMBER#<contact>; gsi1 WS#<ws>#CONTACT#<contact> / GROUP#<group>;
    gsi2 WS#<ws>#GROUP#<group>#STATUS#<contact status> / MEMBER#<contact> (STATUS#ARCHIVED
    while the contact is archived, so members by status skip it).

    The write of this item is the event: its stream record alone tells the workspace, group,
    group type (as it was when the contact joined; a later change of the group's type does
    not rewrite it) and contact.

    It also carries a snapshot of the contact (the fields the member list shows and searches)
    and of the group (what a contact's group list shows), so that a group's members and a
    contact's groups are each one Query. chalicelib.groups.memberships refreshes the contact part
    when the contact changes (stream) and the group part when the group is renamed (job).
    The group's counters follow the snapshot's `status` (chalicelib.groups.stats).
    """

    workspaceId = UnicodeAttribute()
    groupId = UnicodeAttribute()
    groupType = UnicodeAttribute()
    contactId = UnicodeAttribute()
    joinedAt = UnicodeAttribute()
    # Contact snapshot.
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    firstName = UnicodeAttribute(null=True)
    lastName = UnicodeAttribute(null=True)
    company = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="ACTIVE")
    search = UnicodeAttribute(null=True)  # see chalicelib.groups.snapshots.search_text
    contactRevision = NumberAttribute(default=0)  # the contact's revision the snapshot shows
    # The contact is archived: the member is out of the group's counts and member lists.
    archivedAt = UnicodeAttribute(null=True)
    # Group snapshot.
    groupName = UnicodeAttribute(null=True)
    groupColor = UnicodeAttribute(null=True)
    currentGroupType = UnicodeAttribute(null=True)

    @staticmethod
    def key(ws: str, group_id: str, contact_id: str) -> tuple[str, str]:
        return keys.group_partition(ws, group_id), f"MEMBER#{contact_id}"

    @staticmethod
    def status_partition(ws: str, group_id: str, status: str) -> str:
        return f"{keys.group_partition(ws, group_id)}#STATUS#{status}"

    ARCHIVED = "ARCHIVED"  # the gsi2 "status" of an archived contact's memberships


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


class CounterMark(Item, discriminator="CounterMark"):
    """pk WS#<ws>#GROUP#<group>, sk SEQ#<stream eventID>: this stream record's change is already
    in the group's counters. Written in the same transaction as the counters; lives 2 days
    (stream records live 24 h), so a replayed record can never count twice."""

    @staticmethod
    def key(ws: str, group_id: str, event_id: str) -> tuple[str, str]:
        return keys.group_partition(ws, group_id), f"SEQ#{event_id}"


class GroupChange(Item, discriminator="GroupChange"):
    """pk GROUPCHANGES#<yyyy-mm-dd>#<shard>, sk WS#<ws>#GROUP#<group>: the group's counters
    changed that day. Written with the counters; read by the daily recount (a Query per shard
    instead of a Scan). Sharded so one day's writes do not all land on one partition."""

    workspaceId = UnicodeAttribute()
    groupId = UnicodeAttribute()
    changedAt = UnicodeAttribute()

    SHARDS = 8

    @staticmethod
    def partition(day: str, shard: int) -> str:
        return f"GROUPCHANGES#{day}#{shard}"

    @classmethod
    def key(cls, day: str, ws: str, group_id: str) -> tuple[str, str]:
        shard = zlib.crc32(group_id.encode()) % cls.SHARDS
        return cls.partition(day, shard), keys.group_partition(ws, group_id)


class RecountState(Item, discriminator="RecountState"):
    """pk GROUPRECOUNT, sk #STATE: when the daily recount last ran."""

    lastRunAt = UnicodeAttribute()

    @staticmethod
    def key() -> tuple[str, str]:
        return "GROUPRECOUNT", "#STATE"
