"""Starting the scheduled syncs that are due (app.py's `due_syncs`, every 5 minutes).

The due ones are one Query of the due index (gsi1 SYNCS#DUE, sorted by next run time, only
scheduled syncs are in it), never a Scan. Each is moved to its next time with a condition on
the time it was found at, so two overlapping invocations start it once; a sync whose last run
is still going skips this turn.
"""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from chalicelib.exchange import syncs
from chalicelib.models.syncs import DUE_PARTITION, Sync
from chalicelib.platform import clock
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import ApiError
from chalicelib.platform.logs import logger
from chalicelib.platform.paged_query import query_page

BATCH = 100
MAX_BATCHES = 10


def start_due() -> int:
    """Start every due sync's run; the number started."""
    started = 0
    now = clock.now_iso()
    start_key = None
    for _ in range(MAX_BATCHES):
        # `#` sorts below `$`: every "<time>#<ws>#<id>" at or before now, none after.
        page = query_page(
            Sync, DUE_PARTITION, Sync.gsi1sk < f"{now}$", index="gsi1", limit=BATCH, start_key=start_key
        )
        for sync in page.items:
            if _advance(sync):
                try:
                    syncs.start_run(sync.workspaceId, sync.id)
                    started += 1
                except ApiError as error:  # a run still going, the sync deleted meanwhile
                    logger.info(
                        "scheduled sync not started", extra={"sync_id": sync.id, "reason": error.message}
                    )
        start_key = page.last_key
        if start_key is None:
            break
    return started


def _advance(sync: Sync) -> bool:
    """Move the sync to its next run time (from now: a sync that missed runs runs once)."""
    interval = syncs.INTERVALS.get(sync.schedule)
    if interval is None or sync.nextRunAt is None:
        return False
    next_run = clock.iso(clock.now() + interval)
    try:
        sync.update(
            actions=[
                Sync.nextRunAt.set(next_run),
                Sync.gsi1sk.set(Sync.due_sort(next_run, sync.workspaceId, sync.id)),
            ],
            condition=Sync.nextRunAt == sync.nextRunAt,
        )
    except UpdateError as error:
        if is_conditional_failure(error):
            return False  # another invocation moved it (or it was changed or deleted)
        raise
    return True
