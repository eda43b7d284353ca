"""Background jobs: a bulk action over a group's members or a filter's matches, run page by page
through SQS."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item


class Job(Item, discriminator="Job"):
    """pk WS#<ws>, sk JOB#<id>.

    `page` is the number of pages done and `cursor` where the next one starts: a page's
    progress is recorded with the condition `page = <its number>`, so a redelivered or
    duplicated message never records (or sends on) a page twice.
    """

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    kind = UnicodeAttribute()
    groupId = UnicodeAttribute(null=True)  # None: a job over a filter's matches (params.filter)
    # the action's own arguments (tags, campaignId...)
    params: MapAttribute[str, Any] = MapAttribute(default=dict)
    status = UnicodeAttribute(default="PENDING")  # PENDING | RUNNING | FINISHING | COMPLETED | FAILED
    total = NumberAttribute(default=0)
    processed = NumberAttribute(default=0)
    errors = ListAttribute(of=MapAttribute, default=list)  # the first MAX_ERRORS, {contactId, reason}
    errorCount = NumberAttribute(default=0)
    page = NumberAttribute(default=0)
    cursor = UnicodeAttribute(null=True)  # JSON of the LastEvaluatedKey the next page starts after
    # what a kind accumulates over pages (the recount's counts)
    state: MapAttribute[str, Any] = MapAttribute(default=dict)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()
    finishedAt = UnicodeAttribute(null=True)

    @staticmethod
    def key(ws: str, job_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"JOB#{job_id}"
