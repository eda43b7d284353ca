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

Status is only ever raised in bulk (contacts.status.RANK): setStatus ACTIVE, the lowest, is
refused up front, and a contact whose status ranks higher than the one asked (an unsubscribed
contact set to REPLIED) is left as it is and reported: lowering a status (an unsubscribe
above all) is an operator's act on one contact, PATCH /contacts/{id}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from chalicelib.campaigns import enrollment
from chalicelib.campaigns import service as campaigns
from chalicelib.contacts import fields as custom_fields
from chalicelib.contacts.changes import change_many
from chalicelib.contacts.input import parse
from chalicelib.contacts.service import (
    definitions_in,
    merged_custom,
    merged_tags,
    read_items,
    workspace_region,
)
from chalicelib.contacts.status import RANK
from chalicelib.contacts.store import State
from chalicelib.flows import contacts as contact_flows
from chalicelib.groups import jobs, memberships
from chalicelib.groups import service as groups
from chalicelib.groups.snapshots import contact_values
from chalicelib.models.contacts import ContactData
from chalicelib.models.jobs import Job
from chalicelib.platform.errors import ApiError, Conflict, NotFound, ValidationFailed, field_error
from chalicelib.schemas.contacts import ContactPatch
from chalicelib.schemas.filters import BulkBody, FilterNode
from chalicelib.segments import rules, search

PAGE_SIZE = 200  # contacts a page acts on at most (= the search's read limit: one Query)
KIND_PREFIX = "bulk."
ACTIONS = (
    "addTags",
    "removeTags",
    "setFields",
    "setStatus",
    "setPipelineStage",
    "addToGroup",
    "removeFromGroup",
    "addToCampaign",
    "delete",
)
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
        if RANK[body.status.value] == 0:
            raise field_error(
                "status",
                f"bulk work never lowers a status and {body.status.value} is the lowest; "
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
    _patch(workspace_id, given)
    return given


def _patch(workspace_id: str, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, bool]:
    """(profile fields, checked custom fields, customFields cleared): 422 at `fields.<path>`."""
    try:
        parsed = parse(given, ContactPatch, lambda: workspace_region(workspace_id))
        custom = None
        if parsed.custom_fields:
            found = read_items(custom_fields.keys_for(workspace_id, parsed.custom_fields))
            custom = custom_fields.check(parsed.custom_fields, definitions_in(found))
    except ValidationFailed as error:
        details = [{**d, "field": f"fields.{d.get('field', '')}"} for d in error.details or []]
        raise ValidationFailed(f"fields: {error.message}", details) from None
    return parsed.given, custom, "customFields" in parsed.cleared


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
    emails = {c.id: str(c.email or "") for c in contacts}
    try:
        if action in _CHANGES:
            outcome = change_many(job.workspaceId, ids, _CHANGES[action](job, args))
            changed, errors = len(outcome.changed), outcome.errors
        else:
            changed, errors = _OTHERS[action](job, args, contacts)
    except ApiError as error:
        # What the action names went or changed while the job ran (a group deleted or given
        # rules, a custom field deleted): this page's contacts are reported, the job goes on.
        changed, errors = 0, [_error(cid, emails[cid], error.message) for cid in ids]
    for error_ in errors:
        error_.setdefault("email", emails.get(error_["contactId"], ""))
    return _result(len(ids), changed, errors)


def _result(matched: int, changed: int, errors: list[dict[str, str]]) -> jobs.PageResult:
    counts = {"changed": changed, "unchanged": matched - changed - len(errors), "failed": len(errors)}
    return jobs.PageResult(processed=matched, errors=errors, counts=counts)


def _error(contact_id: str, email: str, reason: str) -> dict[str, str]:
    return {"contactId": contact_id, "email": email, "reason": reason}


def _changeable(before: State) -> None:
    if before.get("anonymizedAt"):
        raise Conflict("this contact was anonymised; it cannot be changed")


def _add_tags(job: Job, args: dict[str, Any]) -> Callable[[State], State | None]:
    tags = [str(t) for t in args["tags"]]

    def change(before: State) -> State | None:
        if set(tags) <= set(before["tags"]):
            return None
        _changeable(before)
        return {**before, "tags": merged_tags(before["tags"], tags)}  # 422 past the tags' limit

    return change


def _remove_tags(job: Job, args: dict[str, Any]) -> Callable[[State], State | None]:
    tags = {str(t) for t in args["tags"]}

    def change(before: State) -> State | None:
        if not tags & set(before["tags"]):
            return None
        _changeable(before)
        return {**before, "tags": [t for t in before["tags"] if t not in tags]}

    return change


def _set_fields(job: Job, args: dict[str, Any]) -> Callable[[State], State | None]:
    given, custom, cleared = _patch(job.workspaceId, dict(args["fields"]))  # once a page

    def change(before: State) -> State | None:
        kept = {} if cleared else before["customFields"]
        after = {**before, **given, "customFields": merged_custom(kept, custom, nulls_remove=True)}
        _changeable(before)
        return after

    return change


def _set_status(job: Job, args: dict[str, Any]) -> Callable[[State], State | None]:
    status = str(args["status"])

    def change(before: State) -> State | None:
        current = str(before["status"])
        if current == status:
            return None
        _changeable(before)
        if RANK.get(current, 0) > RANK[status]:
            raise Conflict(f"statusNotLowered: {current} is never lowered to {status} by bulk work")
        return {**before, "status": status, "statusReason": "bulk action"}

    return change


def _set_stage(job: Job, args: dict[str, Any]) -> Callable[[State], State | None]:
    stage = str(args["pipelineStage"])

    def change(before: State) -> State | None:
        if before["pipelineStage"] == stage:
            return None
        _changeable(before)
        return {**before, "pipelineStage": stage}

    return change


Outcome = tuple[int, list[dict[str, str]]]


def _add_to_group(job: Job, args: dict[str, Any], contacts: list[ContactData]) -> Outcome:
    group = groups.get(job.workspaceId, str(args["groupId"]))
    groups.require_manual(group)
    added, _ = memberships.add_pairs(job.workspaceId, [(group, contact_values(c)) for c in contacts])
    return added, []


def _remove_from_group(job: Job, args: dict[str, Any], contacts: list[ContactData]) -> Outcome:
    group = groups.get(job.workspaceId, str(args["groupId"]))
    groups.require_manual(group)
    removed, _ = memberships.remove_members(job.workspaceId, group.id, [c.id for c in contacts])
    return removed, []


def _add_to_campaign(job: Job, args: dict[str, Any], contacts: list[ContactData]) -> Outcome:
    # Eligibility (status, email, suppression, excluded groups) is the enrollment's own
    # (campaigns.eligibility): each contact left out is reported with its reason code; one
    # enrolled already is not a failure (a page run again enrolls nobody twice).
    return enrollment.enroll_counted(
        job.workspaceId,
        str(args["campaignId"]),
        [c.id for c in contacts],
        source="manual",
        via_group_id=None,
        emails={c.id: c.email for c in contacts},
    )


def _delete(job: Job, args: dict[str, Any], contacts: list[ContactData]) -> Outcome:
    deleted, errors = 0, []
    for contact in contacts:
        try:
            contact_flows.delete(job.workspaceId, contact.id)
        except NotFound:
            continue  # deleted already (a page run again, or by someone else)
        except ApiError as error:
            errors.append(_error(contact.id, str(contact.email or ""), error.message))
            continue
        deleted += 1
    return deleted, errors


_CHANGES: dict[str, Callable[[Job, dict[str, Any]], Callable[[State], State | None]]] = {
    "addTags": _add_tags,
    "removeTags": _remove_tags,
    "setFields": _set_fields,
    "setStatus": _set_status,
    "setPipelineStage": _set_stage,
}
_OTHERS: dict[str, Callable[[Job, dict[str, Any], list[ContactData]], Outcome]] = {
    "addToGroup": _add_to_group,
    "removeFromGroup": _remove_from_group,
    "addToCampaign": _add_to_campaign,
    "delete": _delete,
}

KIND = jobs.Kind(run_page, page_size=PAGE_SIZE, read_page=read_matches)
