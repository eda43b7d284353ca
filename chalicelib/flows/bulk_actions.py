"""What each bulk action does to a page of a filter's matches (chalicelib.flows.contact_bulk
runs the pages): through the domain's own writes, each a no-op where already done, every
contact not acted on returned with why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chalicelib.campaigns import enrollment
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
from chalicelib.groups import memberships
from chalicelib.groups import service as groups
from chalicelib.groups.snapshots import contact_values
from chalicelib.models.contacts import ContactData
from chalicelib.platform.errors import ApiError, Conflict, NotFound, ValidationFailed
from chalicelib.schemas.contacts import ContactPatch

Outcome = tuple[int, list[dict[str, str]]]  # (contacts changed, failures)


def apply(workspace_id: str, action: str, args: dict[str, Any], contacts: Sequence[ContactData]) -> Outcome:
    """Apply the action to these contacts: how many it changed, and one {contactId, email,
    reason} per contact it could not act on."""
    page = list(contacts)
    ids = list(dict.fromkeys(c.id for c in page))
    emails = {c.id: str(c.email or "") for c in page}
    try:
        if action in CHANGES:
            outcome = change_many(workspace_id, ids, CHANGES[action](workspace_id, args))
            changed, errors = len(outcome.changed), outcome.errors
        else:
            changed, errors = OTHERS[action](workspace_id, args, page)
    except ApiError as error:
        # What the action names went or changed while the job ran (a group deleted or given
        # rules, a custom field deleted): this page's contacts are reported, the job goes on.
        changed, errors = 0, [_error(cid, emails[cid], error.message) for cid in ids]
    for error_ in errors:
        error_.setdefault("email", emails.get(error_["contactId"], ""))
    return changed, errors


def _error(contact_id: str, email: str, reason: str) -> dict[str, str]:
    return {"contactId": contact_id, "email": email, "reason": reason}


def fields_patch(
    workspace_id: str, given: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None, bool]:
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


def _changeable(before: State) -> None:
    if before.get("anonymizedAt"):
        raise Conflict("this contact was anonymised; it cannot be changed")


def _add_tags(workspace_id: str, args: dict[str, Any]) -> Callable[[State], State | None]:
    tags = [str(t) for t in args["tags"]]

    def change(before: State) -> State | None:
        if set(tags) <= set(before["tags"]):
            return None
        _changeable(before)
        return {**before, "tags": merged_tags(before["tags"], tags)}  # 422 past the tags' limit

    return change


def _remove_tags(workspace_id: str, args: dict[str, Any]) -> Callable[[State], State | None]:
    tags = {str(t) for t in args["tags"]}

    def change(before: State) -> State | None:
        if not tags & set(before["tags"]):
            return None
        _changeable(before)
        return {**before, "tags": [t for t in before["tags"] if t not in tags]}

    return change


def _set_fields(workspace_id: str, args: dict[str, Any]) -> Callable[[State], State | None]:
    given, custom, cleared = fields_patch(workspace_id, dict(args["fields"]))  # once a page

    def change(before: State) -> State | None:
        kept = {} if cleared else before["customFields"]
        after = {**before, **given, "customFields": merged_custom(kept, custom, nulls_remove=True)}
        _changeable(before)
        return after

    return change


def _set_status(workspace_id: str, args: dict[str, Any]) -> Callable[[State], State | None]:
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


def _set_stage(workspace_id: str, args: dict[str, Any]) -> Callable[[State], State | None]:
    stage = str(args["pipelineStage"])

    def change(before: State) -> State | None:
        if before["pipelineStage"] == stage:
            return None
        _changeable(before)
        return {**before, "pipelineStage": stage}

    return change


def _add_to_group(workspace_id: str, args: dict[str, Any], contacts: list[ContactData]) -> Outcome:
    group = groups.get(workspace_id, str(args["groupId"]))
    groups.require_manual(group)
    added, _ = memberships.add_pairs(workspace_id, [(group, contact_values(c)) for c in contacts])
    return added, []


def _remove_from_group(workspace_id: str, args: dict[str, Any], contacts: list[ContactData]) -> Outcome:
    group = groups.get(workspace_id, str(args["groupId"]))
    groups.require_manual(group)
    removed, _ = memberships.remove_members(workspace_id, group.id, [c.id for c in contacts])
    return removed, []


def _add_to_campaign(workspace_id: str, args: dict[str, Any], contacts: list[ContactData]) -> Outcome:
    # Eligibility (status, email, suppression, excluded groups) is the enrollment's own
    # (campaigns.eligibility): each contact left out is reported with its reason code; one
    # enrolled already is not a failure (a page run again enrolls nobody twice).
    return enrollment.enroll_counted(
        workspace_id,
        str(args["campaignId"]),
        [c.id for c in contacts],
        source="manual",
        via_group_id=None,
        emails={c.id: c.email for c in contacts},
    )


def _delete(workspace_id: str, args: dict[str, Any], contacts: list[ContactData]) -> Outcome:
    deleted, errors = 0, []
    for contact in contacts:
        try:
            contact_flows.delete(workspace_id, contact.id)
        except NotFound:
            continue  # deleted already (a page run again, or by someone else)
        except ApiError as error:
            errors.append(_error(contact.id, str(contact.email or ""), error.message))
            continue
        deleted += 1
    return deleted, errors


CHANGES: dict[str, Callable[[str, dict[str, Any]], Callable[[State], State | None]]] = {
    "addTags": _add_tags,
    "removeTags": _remove_tags,
    "setFields": _set_fields,
    "setStatus": _set_status,
    "setPipelineStage": _set_stage,
}
OTHERS: dict[str, Callable[[str, dict[str, Any], list[ContactData]], Outcome]] = {
    "addToGroup": _add_to_group,
    "removeFromGroup": _remove_from_group,
    "addToCampaign": _add_to_campaign,
    "delete": _delete,
}
