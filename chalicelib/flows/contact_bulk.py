"""Bulk work on a filter's matches (POST /api/v1/contacts/bulk, API.md "Segments"): one action
applied to every contact the filter matches, as a paged job (chalicelib.groups.jobs) whose
pages are the search's pages (chalicelib.segments.search.page: one Query on the most
selective index, the one evaluator on the items read).

- Every argument is checked before the job starts (422 naming it; 404 for a group or campaign
  that is not the workspace's; 409 for a rule group or a campaign that is not RUNNING), so a
  bad request writes nothing.
- Pages follow the index by position (the key of the last item read), never by a count of
  matches: a contact the job changes so that it leaves the index (a tag removed while paging
  the tag's contacts, a status changed while paging the status) does not move the others.
- Each action goes through the domain's own writes (contacts.changes for the contacts'
  fields, tags, status and stage; groups.memberships; campaigns.enrollment; flows.contacts
  delete), each a no-op when already done, so a page run again changes nothing twice.
- Every contact not acted on is reported (the job's errors and its errors.csv), with why.

Status is only ever raised in bulk (contacts.status.RANK): setStatus ACTIVE or UNCONFIRMED, below
it, is refused up front, and a contact whose status ranks higher than the one asked (an unsubscribed
contact set to REPLIED) is left as it is and reported: lowering a status (an unsubscribe
above all) is an operator's act on one contact, PATCH /contacts/{id}.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from pydantic import TypeAdapter

from chalicelib.campaigns import service as campaigns
from chalicelib.contacts.status import RANK
from chalicelib.flows import bulk_actions
from chalicelib.groups import jobs
from chalicelib.groups import service as groups
from chalicelib.models.contacts import ContactData
from chalicelib.models.jobs import Job
from chalicelib.platform.errors import Conflict, ValidationFailed, field_error
from chalicelib.schemas.filters import BulkAction, BulkBody, FilterNode
from chalicelib.segments import rules, search

PAGE_SIZE = 200  # contacts a page acts on at most (= the search's read limit: one Query)
KIND_PREFIX = "bulk."
ACTIONS: tuple[str, ...] = get_args(BulkAction)
# What setFields may set: a contact's profile. Identity, tags, status and stage have their own
# actions or routes (an email set on many contacts would collide).
SETTABLE = ("firstName", "lastName", "company", "title", "source", "customFields")
_NODE: TypeAdapter[FilterNode] = TypeAdapter(FilterNode)


def kind_name(action: str) -> str:
    return KIND_PREFIX + action


def start(workspace_id: str, body: BulkBody) -> str:
    """Check the filter and the action's arguments, then start the job; returns its id."""
    checked = rules.check(workspace_id, body.filter)
    args = _arguments(workspace_id, body)
    node = json.dumps(checked.node.model_dump(by_alias=True, mode="json", exclude_none=True))
    # JSON strings: a MapAttribute would read numbers back as Decimals.
    params = {"action": body.action, "filter": node, "args": json.dumps(args)}
    return jobs.start(workspace_id, kind_name(body.action), None, total=0, params=params).id


def _arguments(workspace_id: str, body: BulkBody) -> dict[str, Any]:
    action = body.action
    if action in ("addTags", "removeTags"):
        if not body.tags:
            raise field_error("tags", f"is required for {action}")
        return {"tags": list(dict.fromkeys(body.tags))}
    if action == "setFields":
        return {"fields": _fields(workspace_id, body.fields)}
    if action == "setStatus":
        if body.status is None:
            raise field_error("status", "is required for setStatus")
        if RANK[body.status.value] <= RANK["ACTIVE"]:
            raise field_error(
                "status",
                f"bulk work never lowers a status and {body.status.value} is not above ACTIVE; "
                "set it on one contact with PATCH /contacts/{id}",
            )
        return {"status": body.status.value}
    if action == "setPipelineStage":
        if body.pipeline_stage is None:
            raise field_error("pipelineStage", "is required for setPipelineStage")
        return {"pipelineStage": body.pipeline_stage.value}
    if action in ("addToGroup", "removeFromGroup"):
        if not body.group_id:
            raise field_error("groupId", f"is required for {action}")
        groups.require_manual(groups.get(workspace_id, body.group_id))  # 404, 409 for a rule group
        return {"groupId": body.group_id}
    if action == "addToCampaign":
        if not body.campaign_id:
            raise field_error("campaignId", "is required for addToCampaign")
        campaign = campaigns.get(workspace_id, body.campaign_id)  # 404
        if campaign.status != campaigns.RUNNING:
            raise Conflict(
                f"contacts can be added to a RUNNING campaign, not a {campaign.status} one",
                [{"field": "campaignId", "status": campaign.status, "campaignId": body.campaign_id}],
            )
        return {"campaignId": body.campaign_id}
    if body.confirm is not True:
        raise field_error("confirm", "must be true: this deletes every matching contact from the workspace")
    return {}


def _fields(workspace_id: str, given: dict[str, Any] | None) -> dict[str, Any]:
    """setFields' fields, checked as a contact patch's (422 at `fields.<name>`)."""
    if not given:
        raise field_error("fields", "is required for setFields: the fields to set")
    refused = [
        {"field": f"fields.{name}", "message": f"setFields sets {', '.join(SETTABLE)}"}
        for name in given
        if name not in SETTABLE
    ]
    if refused:
        raise ValidationFailed(f"{refused[0]['field']}: {refused[0]['message']}", refused)
    bulk_actions.fields_patch(workspace_id, given)
    return given


# ---- the job's pages ------------------------------------------------------------------------


def _checked(job: Job) -> rules.Checked:
    return rules.check(job.workspaceId, _NODE.validate_python(json.loads(str(jobs.params(job)["filter"]))))


def read_matches(job: Job, limit: int, start_key: dict[str, Any] | None, consistent: bool) -> search.Result:
    """A page of the filter's matches: the search's own page (consistent reads are not
    offered by the indexes; each action reads or conditions on the contact it writes)."""
    checked = _checked(job)
    return search.page(job.workspaceId, checked, search.plan(job.workspaceId, checked.node), limit, start_key)


def run_page(job: Job, contacts: list[ContactData]) -> jobs.PageResult:
    params = jobs.params(job)
    action, args = str(params["action"]), json.loads(str(params["args"]))
    ids = list(dict.fromkeys(c.id for c in contacts))
    changed, errors = bulk_actions.apply(job.workspaceId, action, args, contacts)
    return _result(len(ids), changed, errors)


def _result(matched: int, changed: int, errors: list[dict[str, str]]) -> jobs.PageResult:
    counts = {"changed": changed, "unchanged": matched - changed - len(errors), "failed": len(errors)}
    return jobs.PageResult(processed=matched, errors=errors, counts=counts)


KIND = jobs.Kind(run_page, page_size=PAGE_SIZE, read_page=read_matches)
