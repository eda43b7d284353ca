"""Timers: a message due at a moment. Due within 15 minutes it is sent at once with an SQS
delay; later, it is a `Timer` item in a minute bucket, which the every-minute schedule
(`release_due`, app.py's `due_steps`) sends when its minute comes, Querying only the buckets it
has not done (no Scan, no sweep over what is timed). Campaign steps, rule groups' time-relative
conditions and score expiries all wait here; every timed handler is idempotent, since a message
may come twice (at least once, as SQS is)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.models.timers import Timer, TimerCheckpoint
from chalicelib.platform import clock, config, queues
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.paged_query import query_page

Queue = Literal["steps", "jobs"]
STEPS: Queue = "steps"
JOBS: Queue = "jobs"
SQS_MAX_DELAY = queues.MAX_DELAY_SECONDS
# Buckets are sharded so a launch scheduling thousands of long waits for the same minute
# spreads its writes over several partitions.
SHARDS = 8
# How many minute buckets one run of the schedule may catch up on, and how far back a first
# run (no checkpoint yet) looks.
MAX_BUCKETS_PER_RUN = 60
# Messages one run of the schedule sends at most (a page over: pages are PAGE items), so a
# run stays well inside its Lambda's time; the rest waits for the next minute's run.
MAX_MESSAGES_PER_RUN = 20_000
PAGE = 1000
FIRST_RUN_LOOKBACK = timedelta(minutes=30)
TIMER_TTL = timedelta(days=7)
SEND_WORKERS = 10


@dataclass(frozen=True)
class Due:
    """One message for `queue` after `wait` seconds. `key` names what is timed (unique in
    its minute: the same key twice is one timer); `spread` picks the bucket's shard."""

    queue: Queue
    key: str
    spread: str
    message: dict[str, Any]
    wait: int


def schedule(items: Iterable[Due], now: datetime | None = None) -> None:
    """Each message after its wait: an SQS delay up to 15 minutes, a timer item beyond."""
    moment = now or clock.now()
    soon: dict[str, list[tuple[dict[str, Any], int]]] = {}
    later: list[Timer] = []
    for due in items:
        if due.wait <= SQS_MAX_DELAY:
            soon.setdefault(due.queue, []).append((due.message, max(0, due.wait)))
        else:
            later.append(_timer(due, moment + timedelta(seconds=due.wait)))
    if later:
        with Timer.batch_write() as batch:
            for item in later:
                batch.save(item)
    for queue, messages in soon.items():
        _send(queue, messages)


def _send(queue: str, messages: list[tuple[dict[str, Any], int]]) -> int:
    """10 a call and the calls side by side (a launch page sends 10); returns the calls."""
    url = config.jobs_queue_url() if queue == JOBS else config.steps_queue_url()
    return queues.send_each(url, messages, workers=SEND_WORKERS)


def _minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def _timer(due: Due, at: datetime) -> Timer:
    shard = zlib.crc32(due.spread.encode()) % SHARDS
    item = Timer(
        f"DUE#{_minute(at)}#{shard}",
        due.key,
        body=json.dumps(due.message, separators=(",", ":")),
        dueAt=clock.iso(at),
        queue=None if due.queue == STEPS else due.queue,
    )
    # A timer for a date at the calendar's end (a date field's 9999-12-31) expires at that end.
    item.ttl = at + min(TIMER_TTL, datetime.max.replace(tzinfo=at.tzinfo) - at)
    return item


def release_due(now: datetime | None = None, budget: int = MAX_MESSAGES_PER_RUN) -> int:
    """The every-minute schedule: send the messages of every bucket from the checkpoint up to
    the next minute (those of the next minute with their remaining delay), moving the
    checkpoint after each. Returns the number of messages sent.

    A run sends about `budget` messages at most, a page at a time; a bucket it cannot finish
    (a big launch's long wait: tens of thousands due the same minute) is resumed by the next
    run from where it stopped (`TimerCheckpoint.partial`), so no run outlasts its Lambda and
    the buckets behind it are not held up for ever.

    A timer item is only written for waits over 15 minutes, so its bucket is always ahead of
    the checkpoint when written. A crash before the checkpoint moves re-sends a page:
    duplicates, which every timed handler must ignore (they are all idempotent).
    """
    moment = now or clock.now()
    try:
        checkpoint = TimerCheckpoint.get(*TimerCheckpoint.key(), consistent_read=True)
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
    """Send the bucket's messages, a page at a time, from `resume` on; stops once `room` messages
    were sent. Returns (None, sent) when the bucket is done, else (where to resume, sent)."""

    sent = 0
    first_shard = int(resume["shard"]) if resume else 0
    for shard in range(first_shard, SHARDS):
        key = resume.get("key") if resume and shard == first_shard else None
        while True:
            if sent >= room:
                return {"minute": minute, "shard": shard, "key": key}, sent
            page = query_page(Timer, f"DUE#{minute}#{shard}", limit=PAGE, start_key=key)
            by_queue: dict[str, list[tuple[dict[str, Any], int]]] = {}
            for item in page.items:
                due = datetime.fromisoformat(item.dueAt.replace("Z", "+00:00"))
                wait = max(0, int((due - now).total_seconds()))
                by_queue.setdefault(item.queue or STEPS, []).append((json.loads(item.body), wait))
            for queue, messages in by_queue.items():
                _send(queue, messages)
                sent += len(messages)
            key = page.last_key
            if key is None:
                break
    return None, sent


def _save_checkpoint(previous: str | None, minute: str, partial: dict[str, Any] | None) -> None:
    """Move the checkpoint to `minute` (with `partial`: how far into the next bucket), unless
    another run moved it first (both sent the same pages, which only duplicates)."""
    first = TimerCheckpoint.pk.does_not_exist()
    condition = first if previous is None else TimerCheckpoint.minute == previous
    progress = json.dumps(partial) if partial else None
    item = TimerCheckpoint(*TimerCheckpoint.key(), minute=minute, partial=progress)
    try:
        item.save(condition=condition)
    except PutError as error:
        if not is_conditional_failure(error):
            raise
