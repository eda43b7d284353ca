"""Campaign items, their links to groups, enrollments, and the items the enrollment engine
keeps beside them (counters, parked steps; due ones are timers, models/timers.py). docs/data-model.md has the
table of keys."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)

from chalicelib.models import keys
from chalicelib.platform.db import Item

STATS_PREFIX = "#STATS#GROUP#"
PARKED_PREFIX = "#PARKED#"


class StepMap(MapAttribute[str, Any]):
    """One step as stored: an email (subject, bodies) or a wait (amount of a unit)."""

    id = UnicodeAttribute()
    type = UnicodeAttribute()  # email | wait
    subject = UnicodeAttribute(null=True)
    bodyText = UnicodeAttribute(null=True)
    bodyHtml = UnicodeAttribute(null=True)
    unit = UnicodeAttribute(null=True)  # seconds | minutes | hours | days
    amount = NumberAttribute(null=True)


class Campaign(Item, discriminator="Campaign"):
    """pk WS#<ws>, sk CAMPAIGN#<id>. `version` guards every read-modify-write (PynamoDB adds
    the condition), so two concurrent edits or transitions cannot both win."""

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    name = UnicodeAttribute()
    status = UnicodeAttribute(default="DRAFT")  # DRAFT | RUNNING | PAUSED | COMPLETED
    fromEmail = UnicodeAttribute()
    steps = ListAttribute(of=StepMap, default=list)
    # PynamoDB types ListAttribute(of=UnicodeAttribute) as list[UnicodeAttribute]: annotated list[str].
    includeGroupIds: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    excludeGroupIds: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    reenrollment = UnicodeAttribute(default="never")  # never | afterExit
    # An enrollment stops (stopReason leftGroup) when its contact leaves the group it came through.
    stopWhenLeaving = BooleanAttribute(default=False)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    launchedAt = UnicodeAttribute(null=True)
    completedAt = UnicodeAttribute(null=True)
    version = VersionAttribute()

    @staticmethod
    def key(ws: str, campaign_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"CAMPAIGN#{campaign_id}"


class CampaignLink(Item, discriminator="CampaignLink"):
    """pk WS#<ws>#GROUP#<group>, sk CAMPAIGN#<campaign>: a campaign that includes or excludes
    the group, with what enrollment needs to decide without reading the campaign."""

    campaignId = UnicodeAttribute()
    role = UnicodeAttribute()  # include | exclude
    status = UnicodeAttribute()
    excludeGroupIds: ListAttribute[str] = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    reenrollment = UnicodeAttribute(default="never")
    # The campaign's launch moment: members who joined by then are the launch's to enroll
    # (source "launch"), later joiners of a DYNAMIC group the stream's ("dynamicGroup").
    launchedAt = UnicodeAttribute(null=True)

    @staticmethod
    def key(ws: str, group_id: str, campaign_id: str) -> tuple[str, str]:
        return keys.group_partition(ws, group_id), f"CAMPAIGN#{campaign_id}"


class Enrollment(Item, discriminator="Enrollment"):
    """pk WS#<ws>#CAMPAIGN#<campaign>, sk ENROLL#<contact>;
    gsi1 WS#<ws>#CONTACT#<contact> / ENROLL#<campaign>.

    Created with attribute_not_exists(pk): a replayed stream record never enrolls twice.
    Where the enrollment stands is (run, currentStep, currentStepId): a step message carries
    the same three and does something only while they still match, which makes every step
    idempotent. currentStepId is "start" until the first step ran; claimedAt is set while an
    email step is being sent (see chalicelib/campaigns/step_runner.py for why).
    """

    workspaceId = UnicodeAttribute()
    campaignId = UnicodeAttribute()
    contactId = UnicodeAttribute()
    status = UnicodeAttribute(default="ACTIVE")  # ACTIVE | COMPLETED | STOPPED
    run = NumberAttribute(default=1)  # 2, 3... when reenrollment afterExit enrolls it again
    currentStep = NumberAttribute(default=0)
    currentStepId = UnicodeAttribute(default="start")
    claimedAt = UnicodeAttribute(null=True)
    nextStepAt = UnicodeAttribute(null=True)
    emailsSent = NumberAttribute(default=0)
    lastSentAt = UnicodeAttribute(null=True)
    enrolledAt = UnicodeAttribute()
    endedAt = UnicodeAttribute(null=True)
    source = UnicodeAttribute()  # launch | dynamicGroup | manual
    viaGroupId = UnicodeAttribute(null=True)
    stopReason = UnicodeAttribute(null=True)

    @staticmethod
    def key(ws: str, campaign_id: str, contact_id: str) -> tuple[str, str]:
        return keys.campaign_partition(ws, campaign_id), f"ENROLL#{contact_id}"

    @staticmethod
    def contact_key(ws: str, campaign_id: str, contact_id: str) -> tuple[str, str]:
        """Its gsi1 key: the contact's partition, so a contact's enrollments are one Query."""
        return keys.contact_partition(ws, contact_id), f"ENROLL#{campaign_id}"


class CampaignGroupStats(Item, discriminator="CampaignGroupStats"):
    """pk WS#<ws>#CAMPAIGN#<campaign>, sk #STATS#GROUP#<group>: what the campaign did through
    one group (enrollments are counted on the group they came through, so the campaign's
    totals are the sum of these). Written with UpdateItem ADD only; the overview reads them
    all with one Query."""

    groupId = UnicodeAttribute()
    enrolled = NumberAttribute(default=0)
    sent = NumberAttribute(default=0)
    opened = NumberAttribute(default=0)
    clicked = NumberAttribute(default=0)
    # Moved by SES notifications, unsubscribes and replies (chalicelib/deliverability/engagement.py).
    delivered = NumberAttribute(default=0)
    bounced = NumberAttribute(default=0)
    softBounced = NumberAttribute(default=0)
    complained = NumberAttribute(default=0)
    unsubscribed = NumberAttribute(default=0)
    replied = NumberAttribute(default=0)

    @staticmethod
    def key(ws: str, campaign_id: str, group_id: str) -> tuple[str, str]:
        return keys.campaign_partition(ws, campaign_id), f"{STATS_PREFIX}{group_id}"


class ParkedStep(Item, discriminator="ParkedStep"):
    """pk WS#<ws>#CAMPAIGN#<campaign>, sk #PARKED#<contact>: a step that came due while the
    campaign was PAUSED; resume (or completion) releases them with one Query per page."""

    body = UnicodeAttribute()  # the step message, JSON
    # New at each parking: a release deletes only the parking it sent, never one made since
    # by a step it released that found the campaign paused again (same key, same body).
    parkId = UnicodeAttribute(null=True)

    @staticmethod
    def key(ws: str, campaign_id: str, contact_id: str) -> tuple[str, str]:
        return keys.campaign_partition(ws, campaign_id), f"{PARKED_PREFIX}{contact_id}"
