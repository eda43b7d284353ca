"""Campaign items, their links to groups, and enrollments."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db import Item
from chalicelib.models import keys


class Campaign(Item, discriminator="Campaign"):
    """pk WS#<ws>, sk CAMPAIGN#<id>."""

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    name = UnicodeAttribute()
    status = UnicodeAttribute(default="DRAFT")  # DRAFT | RUNNING | PAUSED | COMPLETED
    fromEmail = UnicodeAttribute()
    includeGroupIds = ListAttribute(of=UnicodeAttribute, default=list)
    excludeGroupIds = ListAttribute(of=UnicodeAttribute, default=list)
    reenrollment = UnicodeAttribute(default="never")
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()

    @staticmethod
    def key(ws: str, campaign_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"CAMPAIGN#{campaign_id}"


class CampaignLink(Item, discriminator="CampaignLink"):
    """pk WS#<ws>#GROUP#<group>, sk CAMPAIGN#<campaign>: a campaign that includes or excludes
    the group, with what enrollment needs to decide without reading the campaign."""

    campaignId = UnicodeAttribute()
    role = UnicodeAttribute()  # include | exclude
    status = UnicodeAttribute()
    excludeGroupIds = ListAttribute(of=UnicodeAttribute, default=list)

    @staticmethod
    def key(ws: str, group_id: str, campaign_id: str) -> tuple[str, str]:
        return keys.group_partition(ws, group_id), f"CAMPAIGN#{campaign_id}"


class Enrollment(Item, discriminator="Enrollment"):
    """pk WS#<ws>#CAMPAIGN#<campaign>, sk ENROLL#<contact>; gsi1 WS#<ws>#CONTACT#<contact> / ENROLL#<campaign>.

    Created with attribute_not_exists(pk): a replayed stream record never enrolls twice.
    """

    workspaceId = UnicodeAttribute()
    campaignId = UnicodeAttribute()
    contactId = UnicodeAttribute()
    status = UnicodeAttribute(default="ACTIVE")  # ACTIVE | COMPLETED | STOPPED
    currentStep = NumberAttribute(default=0)
    nextStepAt = UnicodeAttribute(null=True)
    enrolledAt = UnicodeAttribute()
    source = UnicodeAttribute()  # launch | dynamicGroup | manual
    viaGroupId = UnicodeAttribute(null=True)
    stopReason = UnicodeAttribute(null=True)

    @staticmethod
    def key(ws: str, campaign_id: str, contact_id: str) -> tuple[str, str]:
        return keys.campaign_partition(ws, campaign_id), f"ENROLL#{contact_id}"
