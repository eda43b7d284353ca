"""Bulk actions on a whole group, run as jobs (chalicelib.groups.jobs) page by page over its
members:

- `applyTags`: add tags to every member contact;
- `addToCampaign`: handed to the campaign engine's own job (chalicelib.campaigns.launch);
- `deleteContacts`: delete every member contact from the workspace (needs `"confirm": true`).

The group's own upkeep runs the same way, in chalicelib.groups.upkeep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from chalicelib.campaigns import launch
from chalicelib.contacts.changes import change_many
from chalicelib.contacts.service import merged_tags
from chalicelib.contacts.store import State
from chalicelib.flows import contacts as contact_flows
from chalicelib.groups import jobs
from chalicelib.groups import service as groups
from chalicelib.models.groups import Membership
from chalicelib.models.jobs import Job
from chalicelib.platform.errors import ApiError, NotFound, field_error

if TYPE_CHECKING:
    from chalicelib.schemas.groups import GroupAction

APPLY_TAGS, DELETE_CONTACTS = "applyTags", "deleteContacts"


def start(workspace_id: str, group_id: str, action: GroupAction) -> str:
    """Check the action's arguments and start its job; returns the job id."""
    group = groups.get(workspace_id, group_id)
    total = max(0, int(group.totalContacts or 0))
    if action.action == "applyTags":
        tags = _tags(action.tags)
        return jobs.start(workspace_id, APPLY_TAGS, group_id, total=total, params={"tags": tags}).id
    if action.action == "addToCampaign":
        if not action.campaign_id:
            raise field_error("campaignId", "is required for addToCampaign")
        # The campaign engine's own paged job (404 unknown campaign, 409 unless RUNNING/PAUSED).
        return launch.enroll_group(workspace_id, action.campaign_id, group_id, source="manual")
    if action.confirm is not True:
        raise field_error(
            "confirm", "must be true: this deletes every contact of the group from the workspace"
        )
    return jobs.start(workspace_id, DELETE_CONTACTS, group_id, total=total).id


def _tags(given: Sequence[str] | None) -> list[str]:
    """The tags (checked like a contact's by the schema), duplicates dropped."""
    if not given:
        raise field_error("tags", "is required for applyTags")
    return list(dict.fromkeys(given))


# ---- the actions' pages -------------------------------------------------------------------


def apply_tags_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    tags = [str(tag) for tag in jobs.params(job)["tags"]]

    def tagged(before: State) -> State | None:
        if before.get("anonymizedAt") or set(tags) <= set(before["tags"]):
            return None
        return {**before, "tags": merged_tags(before["tags"], tags)}  # 422 past the tags' limit

    outcome = change_many(job.workspaceId, [m.contactId for m in members], tagged)
    return jobs.PageResult(processed=len(members), errors=outcome.errors)


def delete_contacts_page(job: Job, members: list[Membership]) -> jobs.PageResult:
    errors: list[dict[str, str]] = []
    for member in members:
        try:
            contact_flows.delete(job.workspaceId, member.contactId)
        except NotFound:
            pass  # deleted already (a page run again, or by someone else)
        except ApiError as error:
            errors.append({"contactId": member.contactId, "reason": error.message})
    return jobs.PageResult(processed=len(members), errors=errors)


APPLY_TAGS_KIND = jobs.Kind(apply_tags_page, page_size=200)
DELETE_CONTACTS_KIND = jobs.Kind(delete_contacts_page, page_size=200)
