"""Timers: work due at a moment later than SQS can delay (15 minutes). docs/data-model.md has
the keys."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute

from chalicelib.platform.db import Item


# The discriminators keep the names these items had when only campaign steps were timed, so
# a stack's stored timers still load.
class Timer(Item, discriminator="DueStep"):
    """pk DUE#<yyyy-mm-ddThh:mm>#<shard>, sk <the timer's key>: one message due that minute.
    The every-minute schedule Queries the buckets it has not done yet and sends them; TTL
    removes them afterwards (no delete requests). The key names what is timed (a step of an
    enrollment, a contact's rule-group crossing, an award's expiry): timing the same thing
    twice for the same minute is one item."""

    body = UnicodeAttribute()  # the message, JSON
    dueAt = UnicodeAttribute()
    queue = UnicodeAttribute(null=True)  # which queue it goes to; absent: steps


class TimerCheckpoint(Item, discriminator="DueCheckpoint"):
    """pk DUE#CHECKPOINT, sk #META: the last minute bucket the schedule finished, and how far
    it got into the next one when a run stopped half way (`partial`: JSON of minute, shard,
    the key to resume after)."""

    minute = UnicodeAttribute()
    partial = UnicodeAttribute(null=True)

    @staticmethod
    def key() -> tuple[str, str]:
        return "DUE#CHECKPOINT", "#META"
