"""What a campaign's transitions set off, started by the campaign's own stream record so that
a transition that committed is never left half done (the record is retried until handled):

- launch (DRAFT → RUNNING): one job per included group (chalicelib.groups.jobs, the same paging the
  groups' addToCampaign action uses) enrolls, page by page, the members the group had at the
  moment the launch was answered (`launchedAt`): a membership that joined later is skipped
  (its `joinedAt` is later). A static group's later joiner is not the launch's; a dynamic
  group's is enrolled by the stream, source "dynamicGroup" (chalicelib.campaigns.enrollment). Why the
  launch time and not a snapshot of the members: memberships carry their join time already,
  so the cut costs nothing per member, where a snapshot would copy every member once more;
  a member who left and rejoined after the launch moment counts as a later joiner;
- resume (PAUSED → RUNNING) and completion: the steps parked while PAUSED are sent again (the
  step runner then runs them, or stops their enrollments if the campaign completed);
- deletion: the campaign's enrollments, counters and parked steps are removed.

Each of these runs in pages through the jobs queue, and each page is idempotent: a job page
is recorded with a condition on its number (chalicelib.groups.jobs) and enrolls with conditional
puts; releasing sends a step message before deleting its parked item (a crash repeats the
message, which the step runner ignores); purging deletes what may already be gone.
A replayed stream record can start a second launch job for a group: it enrolls nobody twice.
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.exceptions import DeleteError

from chalicelib.campaigns import enrollment, step_messages
from chalicelib.campaigns import service as campaigns
from chalicelib.groups import jobs
from chalicelib.models import keys
from chalicelib.models.campaigns import PARKED_PREFIX, ParkedStep
from chalicelib.models.groups import Group, Membership
from chalicelib.platform import config, queues
from chalicelib.platform.db import Item, is_conditional_failure
from chalicelib.platform.errors import Conflict, NotFound
from chalicelib.platform.logs import logger
from chalicelib.platform.streams import Batch, Change

JOB_KIND = "campaignEnroll"
RELEASE_KIND = "campaign.releaseParked"
PURGE_KIND = "campaign.purge"
# Members per job page: 2 BatchGetItem, 100 conditional puts 16 at a time, 10 SendMessageBatch
# side by side. Larger pages would cost fewer Queries, but moto's SQS slows down with the
# queue's depth and 100 is the fastest on the local stack (bench/enrollment.py).
PAGE_SIZE = 100
ITEMS_PER_PAGE = 100  # parked steps released / items purged per message


def start_job(ws: str, campaign_id: str, group_id: str, *, source: str, as_of: str | None = None) -> str:
    """Start enrolling a group's members into a campaign; returns the job id. 404 when the
    group is not in the workspace. `as_of` (the launch's moment): only members who joined
    by then are enrolled."""
    groups = list(Group.batch_get([Group.key(ws, group_id)]))
    if not groups:
        raise NotFound("group not found", [{"field": "groupId", "groupId": group_id}])
    total = max(0, int(groups[0].totalContacts or 0))
    params = {"campaignId": campaign_id, "source": source}
    if as_of:
        params["asOf"] = as_of
    return jobs.start(ws, JOB_KIND, group_id, total=total, params=params).id


def joined_by(members: list[Membership], as_of: Any) -> list[Membership]:
    """The members who had joined at `as_of` (all of them without one)."""
    if not as_of:
        return members
    return [member for member in members if str(member.joinedAt) <= str(as_of)]


def enroll_page(job: Any, members: list[Membership]) -> jobs.PageResult:
    enrolling = joined_by(members, job.params.as_dict().get("asOf"))
    not_enrolled = enrollment.enroll_contacts(
        job.workspaceId,
        str(job.params["campaignId"]),
        [member.contactId for member in enrolling],
        source=str(job.params["source"]),
        via_group_id=job.groupId,
        emails={member.contactId: member.email for member in enrolling},
    )
    return jobs.PageResult(processed=len(members), errors=not_enrolled)


def enroll_group(workspace_id: str, campaign_id: str, group_id: str, *, source: str = "manual") -> str:
    """Enroll every current eligible member of one group (minus the campaign's excluded
    groups) in pages through the jobs queue; returns the job's id at once (GET /jobs/{id}).

    Raises NotFound (404) when the campaign or the group is not in the workspace, Conflict
    (409) unless the campaign is RUNNING or PAUSED.
    """
    campaign = campaigns.get(workspace_id, campaign_id)
    if campaign.status not in (campaigns.RUNNING, campaigns.PAUSED):
        raise Conflict(
            f"contacts can be added to a RUNNING or PAUSED campaign, not a {campaign.status} one",
            [{"field": "campaignId", "status": campaign.status, "campaignId": campaign_id}],
        )
    return start_job(workspace_id, campaign_id, group_id, source=source)


ENROLL_KIND = jobs.Kind(enroll_page, page_size=PAGE_SIZE, consistent=True)


# ---- the campaign's stream record -------------------------------------------------------


def on_campaign(change: Change, batch: Batch) -> None:
    image = change.image
    ws, campaign_id = str(image["workspaceId"]), str(image["id"])
    if change.event_name == "REMOVE":
        _send(PURGE_KIND, ws, campaign_id)
        return
    if change.event_name != "MODIFY" or not change.changed("status"):
        return
    before, after = (change.old or {}).get("status"), (change.new or {}).get("status")
    if before == "DRAFT" and after == "RUNNING":
        for group_id in image.get("includeGroupIds") or []:
            try:
                start_job(ws, campaign_id, str(group_id), source="launch", as_of=image.get("launchedAt"))
            except NotFound:
                logger.warning("launch: an included group no longer exists", extra={"group_id": group_id})
    elif before == "PAUSED" and after in ("RUNNING", "COMPLETED"):
        _send(RELEASE_KIND, ws, campaign_id)


def _send(kind: str, ws: str, campaign_id: str, cursor: dict[str, Any] | None = None) -> None:
    message = {"kind": kind, "ws": ws, "campaignId": campaign_id, "cursor": cursor}
    queues.send(config.jobs_queue_url(), [message])


def release_parked(message: dict[str, Any], attempt: int = 1) -> None:
    """Send one page of the campaign's parked steps to the steps queue, then forget them."""
    ws, campaign_id = message["ws"], message["campaignId"]
    page = ParkedStep.query(
        keys.campaign_partition(ws, campaign_id),
        ParkedStep.sk.startswith(PARKED_PREFIX),
        consistent_read=True,
        limit=ITEMS_PER_PAGE,
        page_size=ITEMS_PER_PAGE,
        last_evaluated_key=message.get("cursor"),
    )
    parked = list(page)
    step_messages.send([(json.loads(item.body), 0) for item in parked])
    for item in parked:
        _forget(item)
    if page.last_evaluated_key:
        _send(RELEASE_KIND, ws, campaign_id, page.last_evaluated_key)


def _forget(item: ParkedStep) -> None:
    """Delete the parking that was released, unless it was parked again meanwhile."""
    same = ParkedStep.parkId == item.parkId if item.parkId else ParkedStep.parkId.does_not_exist()
    try:
        item.delete(condition=same)
    except DeleteError as error:
        if not is_conditional_failure(error):
            raise


def purge(message: dict[str, Any], attempt: int = 1) -> None:
    """Delete one page of a deleted campaign's partition (enrollments, counters, parked)."""
    ws, campaign_id = message["ws"], message["campaignId"]
    page = Item.query(
        keys.campaign_partition(ws, campaign_id),
        limit=ITEMS_PER_PAGE,
        page_size=ITEMS_PER_PAGE,
        last_evaluated_key=message.get("cursor"),
    )
    items = list(page)
    with Item.batch_write() as batch:
        for item in items:
            batch.delete(item)
    if page.last_evaluated_key:
        _send(PURGE_KIND, ws, campaign_id, page.last_evaluated_key)
