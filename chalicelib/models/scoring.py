"""Scoring rules and the per-(contact, rule) award counters (chalicelib.scoring).

The awards themselves are Activity items of the contact (kind scoreAwarded): the timeline shows
them, and erasing or deleting the contact takes them with it.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.models import keys
from chalicelib.models.activity import Activity
from chalicelib.platform.db import Item


class ScoringRule(Item, discriminator="ScoringRule"):
    """pk WS#<ws>#SCORERULES, sk RULE#<id>: the workspace's rules, one Query for the stream to
    score a batch's events and changes against all of them."""

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    name = UnicodeAttribute()
    points = NumberAttribute()
    when = UnicodeAttribute()  # JSON: {"event", ...} or {"matches": filter}
    repeat = UnicodeAttribute(default="everyTime")  # once | everyTime
    maxPerContact = NumberAttribute(null=True)
    expiresDays = NumberAttribute(null=True)
    active = BooleanAttribute(default=True)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()

    @staticmethod
    def partition(ws: str) -> str:
        return f"{keys.workspace(ws)}#SCORERULES"

    @staticmethod
    def key(ws: str, rule_id: str) -> tuple[str, str]:
        return ScoringRule.partition(ws), f"RULE#{rule_id}"


class AwardCount(Item, discriminator="AwardCount"):
    """pk WS#<ws>#ACTIVITY#<contact>, sk SCORECOUNT#<rule>: how many times the rule awarded the
    contact. Moved (ADD 1, conditioned on staying within the rule's limit) in each award's own
    transaction, so `once` and `maxPerContact` hold under concurrent events."""

    awarded = NumberAttribute(default=0)

    @staticmethod
    def key(ws: str, contact_id: str, rule_id: str) -> tuple[str, str]:
        return Activity.partition(ws, contact_id), f"SCORECOUNT#{rule_id}"
