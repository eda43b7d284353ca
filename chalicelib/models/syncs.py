"""Database syncs: a customer's database read on a schedule, its rows imported as contacts
(chalicelib.exchange.syncs). Each run is an Import item (chalicelib.models.imports) with
`syncId` set, so a run goes through the CSV import's row path and report."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import BooleanAttribute, MapAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.models import keys
from chalicelib.platform.db import Item

# gsi1 partition of every scheduled sync, sorted by when it is due: the schedule's one Query.
DUE_PARTITION = "SYNCS#DUE"


class Sync(Item, discriminator="Sync"):
    """pk WS#<ws>, sk SYNC#<id>; when scheduled (hourly | daily), gsi1 SYNCS#DUE /
    <nextRunAt>#<ws>#<id>, so the due ones are one Query with `gsi1sk <= now`.

    The password is not here: it is the Secrets Manager secret `secretName`.
    """

    id = UnicodeAttribute()
    workspaceId = UnicodeAttribute()
    name = UnicodeAttribute()
    engine = UnicodeAttribute()  # postgresql | mysql
    host = UnicodeAttribute()
    port = NumberAttribute()
    database = UnicodeAttribute()
    user = UnicodeAttribute()
    sslmode = UnicodeAttribute(null=True)
    secretName = UnicodeAttribute()
    sql = UnicodeAttribute()  # the SELECT (not `query`: a Model method)
    mapping: MapAttribute[str, Any] = MapAttribute(default=dict)  # {"column": "field"}
    cursorColumn = UnicodeAttribute(null=True)
    groupId = UnicodeAttribute(null=True)
    schedule = UnicodeAttribute()  # hourly | daily | manual
    updateExisting = BooleanAttribute(default=False)
    # The highest cursorColumn value of the last completed run (as text), and that run.
    lastCursor = UnicodeAttribute(null=True)
    lastRunId = UnicodeAttribute(null=True)
    # The run in progress, if any: one run of a sync at a time.
    activeRunId = UnicodeAttribute(null=True)
    nextRunAt = UnicodeAttribute(null=True)
    runs = NumberAttribute(default=0)
    createdAt = UnicodeAttribute()
    updatedAt = UnicodeAttribute()

    @staticmethod
    def key(ws: str, sync_id: str) -> tuple[str, str]:
        return keys.workspace(ws), f"SYNC#{sync_id}"

    @staticmethod
    def due_sort(next_run_at: str, ws: str, sync_id: str) -> str:
        return f"{next_run_at}#{ws}#{sync_id}"

    @staticmethod
    def runs_partition(ws: str, sync_id: str) -> str:
        """gsi1 partition of a sync's runs (Import items): its run list is one Query."""
        return f"{keys.workspace(ws)}#SYNC#{sync_id}"
