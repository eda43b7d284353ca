"""Background jobs over a group's members (or, with a kind's own `read_page`, over any paged
items: a filter's matches, chalicelib.flows.contact_bulk): page by page through the jobs
queue, resumable, with their progress in a Job item (GET /api/v1/jobs/{id}).

Each SQS message runs one page (up to the kind's page size of members) and then sends the
message of the next page. Where the next page starts is kept in the Job item, not trusted
from the message: the page's progress is recorded with the condition `page = n`, so

- a message delivered again after its page was recorded does not redo the page; it only
  makes sure the next page's message is on its way (the crash may have come before sending);
- a page that crashed half way is run again from its start: every kind's page is idempotent
  (tags added are a set, a deleted contact is gone, enrollment is conditional...);
- two deliveries of the same page running at once record it once; the loser stops.

A kind may page through several groups in turn (`groups`, e.g. a merge's sources): the index
of the group being read is kept in the job's `state` ("group") and moves on, with the cursor,
in the same conditional update that records the page.

When the last page is recorded the job is FINISHING, the kind's `finish` runs (again if it
crashed), then COMPLETED. A page that fails on its last delivery makes the job FAILED (with
its progress where it stopped) and its message goes to the dead-letter queue: redriven from
there, it runs the page again and the job carries on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.groups import job_report, members
from chalicelib.models.jobs import Job
from chalicelib.platform import clock, config, ids, queues
from chalicelib.platform.db import is_conditional_failure
from chalicelib.platform.errors import NotFound
from chalicelib.platform.logs import logger

MESSAGE_KIND = "job.page"
MAX_ERRORS = 1000  # kept in the Job item (400 KB); errorCount counts them all
JOB_TTL = timedelta(days=30)

PENDING, RUNNING, FINISHING, COMPLETED, FAILED = "PENDING", "RUNNING", "FINISHING", "COMPLETED", "FAILED"


@dataclass(frozen=True)
class PageResult:
    processed: int
    errors: list[dict[str, str]] = field(default_factory=list)
    # Numbers added to the job's `state` (what a kind accumulates, e.g. a recount's totals).
    counts: Mapping[str, int] = field(default_factory=dict)


# A page's items are memberships (a group's members) or what the kind's read_page gives.
RunPage = Callable[[Job, list[Any]], PageResult]


class ReadPage(Protocol):
    """Where a kind's pages come from: up to `limit` items after `start_key`, and the key the
    next page starts after (None at the end). Paging is by position (a key), never by count:
    an item the job changed out of the partition does not move the others."""

    def __call__(self, job: Job, limit: int, start_key: dict[str, Any] | None, consistent: bool) -> Any: ...


@dataclass(frozen=True)
class Kind:
    """What a page of one kind of job does with its members."""

    run_page: RunPage
    page_size: int = 500
    consistent: bool = False
    finish: Callable[[Job], None] | None = None
    read_page: ReadPage | None = None  # None: the group's members
    # The groups whose members the pages read, in turn (default: the job's own group).
    groups: Callable[[Job], list[str]] | None = None


# job kind -> what its pages do (chalicelib.events.dispatch.JOB_KINDS)
Kinds = Mapping[str, Kind]


def start(
    workspace_id: str,
    kind_name: str,
    group_id: str | None,
    *,
    total: int,
    params: Mapping[str, Any] | None = None,
    start_key: Mapping[str, Any] | None = None,
) -> Job:
    """Create the job and send its first page's message."""
    now = clock.now()
    job_id = ids.new_id()
    job = Job(
        *Job.key(workspace_id, job_id),
        id=job_id,
        workspaceId=workspace_id,
        kind=kind_name,
        groupId=group_id,
        params=dict(params or {}),
        status=PENDING,
        total=max(0, total),
        cursor=json.dumps(start_key) if start_key else None,
        createdAt=clock.iso(now),
        updatedAt=clock.iso(now),
        ttl=now + JOB_TTL,
    )
    job.save(condition=Job.pk.does_not_exist())
    _send(job, 0)
    return job


def get(workspace_id: str, job_id: str) -> Job:
    if not ids.is_id(job_id):
        raise NotFound("job not found")
    try:
        return Job.get(*Job.key(workspace_id, job_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound("job not found") from None


def view(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "groupId": job.groupId,
        "status": job.status,
        "processed": int(job.processed or 0),
        "total": max(int(job.total or 0), int(job.processed or 0)),
        "errors": [_plain(error) for error in job.errors or []],
        "errorCount": int(job.errorCount or 0),
        "counts": state(job),
        "createdAt": job.createdAt,
        "updatedAt": job.updatedAt,
        "finishedAt": job.finishedAt,
    }


def _plain(value: Any) -> dict[str, Any]:
    return value.as_dict() if hasattr(value, "as_dict") else dict(value or {})


def params(job: Job) -> dict[str, Any]:
    """The job's arguments as plain values."""
    return _plain(job.params)


def state(job: Job) -> dict[str, int]:
    """What the job's pages accumulated so far."""
    return {name: int(value) for name, value in _plain(job.state).items()}


def _send(job: Job, page: int) -> None:
    message = {"kind": MESSAGE_KIND, "workspaceId": job.workspaceId, "jobId": job.id, "page": page}
    queues.send(config.jobs_queue_url(), [message])


def page_failed(message: dict[str, Any], error: BaseException) -> None:
    """The message failed on its last delivery (its page, sending the next one, or the
    finish): nothing will move the job on, so it is FAILED, unless it completed meanwhile."""
    logger.error(
        "job page failed on its last delivery",
        extra={"job_id": message.get("jobId"), "page": message.get("page"), "error": repr(error)},
    )
    now = clock.now_iso()
    try:
        Job(*Job.key(message["workspaceId"], message["jobId"])).update(
            [Job.status.set(FAILED), Job.finishedAt.set(now), Job.updatedAt.set(now)],
            condition=Job.pk.exists() & (Job.status != COMPLETED),
        )
    except UpdateError as failure:
        if not is_conditional_failure(failure):
            raise


def run_page_message(message: dict[str, Any], kinds: Kinds) -> None:
    try:
        job = Job.get(*Job.key(message["workspaceId"], message["jobId"]), consistent_read=True)
    except DoesNotExist:
        logger.warning("job message for a missing job", extra={"job_id": message.get("jobId")})
        return
    run(job, int(message["page"]), kinds)


def run(job: Job, page_number: int, kinds: Kinds) -> None:
    """Run page `page_number` of the job, unless it was recorded already."""
    if job.status == COMPLETED or page_number > job.page:
        return
    registered = kinds[job.kind]
    if page_number < job.page:
        # Delivered again after its page was recorded: carry on from where the job is. Every
        # page recorded (no cursor left): only the finish remains, FAILED or not.
        if job.status == FINISHING or (job.status == FAILED and job.cursor is None):
            _finish(job, registered)
        elif page_number == job.page - 1:
            _send(job, int(job.page))
        return
    totals = state(job)
    groups = registered.groups(job) if registered.groups is not None else [str(job.groupId)]
    index = totals.get("group", 0)
    read = registered.read_page or partial(_members, group_id=groups[index])
    page = read(
        job, registered.page_size, json.loads(job.cursor) if job.cursor else None, registered.consistent
    )
    result = registered.run_page(job, page.items)
    if result.errors:
        # Every failure, in a CSV part of this page (a page run again writes the same key).
        job_report.write_part(job, page_number, result.errors)
    last = page.last_key is None and index >= len(groups) - 1
    if page.last_key is None and not last:
        totals["group"] = index + 1  # this group is done: the next page reads the next one
    actions: list[Any] = [
        Job.page.set(page_number + 1),
        Job.cursor.set(json.dumps(page.last_key)) if page.last_key else Job.cursor.remove(),
        Job.processed.add(result.processed),
        Job.status.set(FINISHING if last else RUNNING),
        Job.updatedAt.set(clock.now_iso()),
    ]
    if result.errors:
        room = max(0, MAX_ERRORS - len(job.errors or []))
        if room:
            actions.append(Job.errors.set(Job.errors.append(result.errors[:room])))
        actions.append(Job.errorCount.add(len(result.errors)))
    for name, value in result.counts.items():
        totals[name] = totals.get(name, 0) + int(value)
    if totals != state(job):
        actions.append(Job.state.set(totals))
    try:
        job.update(actions, condition=Job.page == page_number)
    except UpdateError as error:
        if is_conditional_failure(error):
            logger.info(
                "job page recorded by another delivery", extra={"job_id": job.id, "page": page_number}
            )
            return
        raise
    if last:
        _finish(job, registered, new_errors=len(result.errors))
    else:
        _send(job, page_number + 1)


def _members(
    job: Job, limit: int, start_key: dict[str, Any] | None, consistent: bool, *, group_id: str
) -> Any:
    return members.member_page(
        job.workspaceId, group_id, limit=limit, start_key=start_key, consistent=consistent
    )


def _finish(job: Job, registered: Kind, new_errors: int = 0) -> None:
    if registered.finish is not None:
        registered.finish(job)
    if int(job.errorCount or 0) or new_errors:  # `job` as read before its last page's record
        job_report.join(job)
    now = clock.now_iso()
    try:
        job.update(
            [Job.status.set(COMPLETED), Job.finishedAt.set(now), Job.updatedAt.set(now)],
            condition=Job.status.is_in(FINISHING, FAILED),
        )
    except UpdateError as error:
        if not is_conditional_failure(error):
            raise
    logger.info("job completed", extra={"job_id": job.id, "kind": job.kind, "processed": int(job.processed)})
