"""Scheduling steps: a step due within 15 minutes is a step message with DelaySeconds; a later
one is a DueStep item in a minute bucket, which the every-minute schedule (`release_due`, app.py's
`due_steps`) sends when its minute comes, Querying only the buckets it has not done (no Scan)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.campaigns.step_messages import StepRef, send
from chalicelib.models.campaigns import DueCheckpoint, DueStep
from chalicelib.platform import clock, queues
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.paged_query import query_page

SQS_MAX_DELAY = queues.MAX_DELAY_SECONDS
# Due buckets are sharded so a launch scheduling thousands of long waits for the same minute
# spreads its writes over several partitions.
DUE_SHARDS = 8
# How many minute buckets one run of the schedule may catch up on, and how far back a first
# run (no checkpoint yet) looks.
MAX_BUCKETS_PER_RUN = 60
# Steps one run of the schedule sends at most (a page over: pages are DUE_PAGE items), so
# a run stays well inside its Lambda's time; the rest waits for the next minute's run.
MAX_STEPS_PER_RUN = 20_000
DUE_PAGE = 1000
FIRST_RUN_LOOKBACK = timedelta(minutes=30)
DUE_TTL = timedelta(days=7)


def schedule(items: Iterable[tuple[StepRef, int]], now: datetime | None = None) -> None:
    """Each step after `wait` seconds: an SQS delay up to 15 minutes, a due item beyond."""
    moment = now or clock.now()
    soon: list[tuple[dict[str, Any], int]] = []
    later: list[DueStep] = []
    for ref, wait in items:
        if wait <= SQS_MAX_DELAY:
            soon.append((ref.message(), wait))
        else:
            later.append(_due_item(ref, moment + timedelta(seconds=wait)))
    if later:
        with DueStep.batch_write() as batch:
            for item in later:
                batch.save(item)
    send(soon)


def _minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def _due_item(ref: StepRef, due: datetime) -> DueStep:
    shard = zlib.crc32(ref.contact_id.encode()) % DUE_SHARDS
    item = DueStep(
        f"DUE#{_minute(due)}#{shard}",
        f"{ref.ws}#{ref.campaign_id}#{ref.contact_id}#{ref.run}#{ref.step_id}",
        body=json.dumps(ref.message(), separators=(",", ":")),
        dueAt=clock.iso(due),
    )
    item.ttl = due + DUE_TTL
    return item


def release_due(now: datetime | None = None, budget: int = MAX_STEPS_PER_RUN) -> int:
    """The every-minute schedule: send the steps of every bucket from the checkpoint up to
    the next minute (those of the next minute with their remaining delay), moving the
    checkpoint after each. Returns the number of steps sent.

    A run sends about `budget` steps at most, a page at a time; a bucket it cannot finish
    (a big launch's long wait: tens of thousands due the same minute) is resumed by the next
    run from where it stopped (`DueCheckpoint.partial`), so no run outlasts its Lambda and
    the buckets behind it are not held up for ever.

    A due item is only written for waits over 15 minutes, so its bucket is always ahead of
    the checkpoint when written. A crash before the checkpoint moves re-sends a page:
    duplicates that the step runner ignores.
    """
    moment = now or clock.now()
    try:
        checkpoint = DueCheckpoint.get(*DueCheckpoint.key(), consistent_read=True)
        done: str | None = checkpoint.minute
        partial = json.loads(checkpoint.partial) if checkpoint.partial else None
    except DoesNotExist:
        done, partial = None, None
    first = (
        datetime.strptime(done, "%Y-%m-%dT%H:%M").replace(tzinfo=moment.tzinfo) + timedelta(minutes=1)
        if done
        else moment.replace(second=0, microsecond=0) - FIRST_RUN_LOOKBACK
    )
    last = (moment + timedelta(minutes=1)).replace(second=0, microsecond=0)
    sent = 0
    bucket = first
    for _ in range(MAX_BUCKETS_PER_RUN):
        if bucket > last:
            break
        minute = _minute(bucket)
        resume = partial if partial and partial.get("minute") == minute else None
        resume_at, count = _release_bucket(minute, moment, resume, budget - sent)
        sent += count
        if resume_at is not None:  # the budget is spent: the next run goes on from there
            _save_checkpoint(done, _minute(bucket - timedelta(minutes=1)), resume_at)
            return sent
        _save_checkpoint(done, minute, None)
        done, partial = minute, None
        bucket += timedelta(minutes=1)
    return sent


def _release_bucket(
    minute: str, now: datetime, resume: dict[str, Any] | None, room: int
) -> tuple[dict[str, Any] | None, int]:
    """Send the bucket's steps, a page at a time, from `resume` on; stops once `room` steps
    were sent. Returns (None, sent) when the bucket is done, else (where to resume, sent)."""

    sent = 0
    first_shard = int(resume["shard"]) if resume else 0
    for shard in range(first_shard, DUE_SHARDS):
        key = resume.get("key") if resume and shard == first_shard else None
        while True:
            if sent >= room:
                return {"minute": minute, "shard": shard, "key": key}, sent
            page = query_page(DueStep, f"DUE#{minute}#{shard}", limit=DUE_PAGE, start_key=key)
            messages = []
            for item in page.items:
                due = datetime.fromisoformat(item.dueAt.replace("Z", "+00:00"))
                messages.append((json.loads(item.body), int((due - now).total_seconds())))
            send(messages)
            sent += len(messages)
            key = page.last_key
            if key is None:
                break
    return None, sent


def _save_checkpoint(previous: str | None, minute: str, partial: dict[str, Any] | None) -> None:
    """Move the checkpoint to `minute` (with `partial`: how far into the next bucket), unless
    another run moved it first (both sent the same pages, which only duplicates)."""
    condition = DueCheckpoint.pk.does_not_exist() if previous is None else DueCheckpoint.minute == previous
    progress = json.dumps(partial) if partial else None
    item = DueCheckpoint(*DueCheckpoint.key(), minute=minute, partial=progress)
    try:
        item.save(condition=condition)
    except PutError as error:
        if not is_conditional_failure(error):
            raise
