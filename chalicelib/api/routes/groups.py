"""Routes of /api/v1/groups, and a contact's groups (/api/v1/contacts/{id}/groups).

See docs/api.md, section Groups. Views parse, call the domain, answer; nothing else.
They import the domain inside the function: importing app (every function's cold start)
should not pay for the groups' modules.
"""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, parse_query, route, workspace_id

bp = Blueprint(__name__)

GROUP = "/api/v1/groups/{groupId}"


@route(
    bp,
    "/api/v1/groups",
    "POST",
    summary="Create a group (name unique per workspace, case-insensitive)",
    body="groups.GroupCreate",
    response="groups.GroupView",
    status=201,
)
def create_group() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.flows import groups as group_flows
    from chalicelib.groups import service as groups
    from chalicelib.schemas.groups import GroupCreate

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, GroupCreate)
    return idempotency.respond(
        request, ws, "groups:create", lambda: (201, groups.view(group_flows.create_group(ws, body)))
    )


@route(
    bp,
    "/api/v1/groups",
    "GET",
    summary="List the groups with their member counts",
    query="common.ListQuery",
    response="groups.GroupPage",
)
def list_groups() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import service as groups
    from chalicelib.schemas.common import ListQuery

    request = bp.current_request
    query = parse_query(request, ListQuery)
    items, cursor = groups.list_page(workspace_id(request), query.limit, query.cursor)
    return json_response({"items": [groups.view(g) for g in items], "nextCursor": cursor})


@route(bp, GROUP, "GET", summary="Read a group", response="groups.GroupView")
def get_group(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import service as groups

    return json_response(groups.view(groups.get(workspace_id(bp.current_request), groupId)))


@route(
    bp,
    GROUP,
    "PATCH",
    summary="Change a group (a new type applies to memberships written from then on)",
    body="groups.GroupPatch",
    response="groups.GroupView",
)
def patch_group(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.flows import groups as group_flows
    from chalicelib.groups import service as groups
    from chalicelib.schemas.groups import GroupPatch

    request = bp.current_request
    patch = parse_body(request, GroupPatch)
    return json_response(groups.view(group_flows.update_group(workspace_id(request), groupId, patch)))


@route(
    bp,
    GROUP,
    "DELETE",
    summary=(
        "Delete a group and its memberships, never its contacts (409 if a RUNNING campaign uses it); "
        "202 with a jobId when a big group's memberships are removed by a job"
    ),
    query="groups.DeleteQuery",
    status=204,
)
def delete_group(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.flows import groups as group_flows
    from chalicelib.schemas.groups import DeleteQuery

    request = bp.current_request
    query = parse_query(request, DeleteQuery)
    job_id = group_flows.delete_group(workspace_id(request), groupId, force=query.force)
    if job_id is None:
        return Response(body="", status_code=204)
    # The group is gone; its remaining memberships are being removed by this job.
    return json_response({"jobId": job_id}, 202)


@route(
    bp,
    f"{GROUP}/members",
    "POST",
    summary="Add up to 1,000 contacts by id and/or email (unknown emails become contacts)",
    body="groups.MembersAdd",
    response="groups.MembersReport",
)
def add_members(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.flows import group_members
    from chalicelib.schemas.groups import MembersAdd

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, MembersAdd)

    def produce() -> tuple[int, dict[str, object]]:
        return 200, group_members.add(ws, groupId, body.contact_ids, body.emails).wire()

    return idempotency.respond(request, ws, f"groups:{groupId}:members", produce)


@route(
    bp,
    f"{GROUP}/members/validate",
    "POST",
    summary="The report an add would give, changing nothing",
    body="groups.MembersAdd",
    response="groups.MembersReport",
)
def validate_members(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.flows import group_members
    from chalicelib.schemas.groups import MembersAdd

    request = bp.current_request
    body = parse_body(request, MembersAdd)
    report = group_members.add(workspace_id(request), groupId, body.contact_ids, body.emails, dry_run=True)
    return json_response(report.wire())


@route(
    bp,
    f"{GROUP}/members/remove",
    "POST",
    summary="Remove up to 1,000 contacts from the group (the contacts stay)",
    body="groups.MembersRemove",
    response="groups.RemoveReport",
)
def remove_members(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import memberships
    from chalicelib.schemas.groups import MembersRemove

    request = bp.current_request
    body = parse_body(request, MembersRemove)
    removed, not_member = memberships.remove(workspace_id(request), groupId, body.contact_ids)
    return json_response({"removed": removed, "notMember": not_member})


@route(
    bp,
    f"{GROUP}/members/{{contactId}}",
    "DELETE",
    summary="Remove one contact from the group (the contact stays)",
    status=204,
)
def remove_member(groupId: str, contactId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import memberships

    memberships.remove_one(workspace_id(bp.current_request), groupId, contactId)
    return Response(body="", status_code=204)


@route(
    bp,
    f"{GROUP}/members",
    "GET",
    summary="List the group's members (q: prefix of email or name; status)",
    query="groups.MembersQuery",
    response="groups.MemberPage",
)
def list_members(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import members
    from chalicelib.schemas.groups import MembersQuery

    request = bp.current_request
    query = parse_query(request, MembersQuery)
    items, cursor = members.members_page(
        workspace_id(request),
        groupId,
        limit=query.limit,
        cursor=query.cursor,
        q=query.q,
        status=query.status.value if query.status else None,
    )
    return json_response({"items": items, "nextCursor": cursor})


@route(bp, f"{GROUP}/stats", "GET", summary="The group's statistics (one read)", response="groups.GroupStats")
def group_stats_view(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import stats as group_stats

    return json_response(group_stats.read(workspace_id(bp.current_request), groupId))


@route(
    bp,
    f"{GROUP}/export",
    "GET",
    summary="The group's members as CSV (formula-injection safe); a large group: 202 and an export job",
    response_content_type="text/csv",
)
def export_group(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api.routes.imports import export_answer
    from chalicelib.exchange import group_export

    return export_answer(group_export.export(workspace_id(bp.current_request), groupId))


@route(
    bp,
    f"{GROUP}/actions",
    "POST",
    summary="Start a bulk action on every member: applyTags, addToCampaign, deleteContacts",
    body="groups.GroupAction",
    response="groups.JobAccepted",
    status=202,
)
def group_action(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.flows import group_actions
    from chalicelib.schemas.groups import GroupAction

    request = bp.current_request
    ws = workspace_id(request)
    action = parse_body(request, GroupAction)
    return idempotency.respond(
        request,
        ws,
        f"groups:{groupId}:actions",
        lambda: (202, {"jobId": group_actions.start(ws, groupId, action)}),
    )


@route(
    bp,
    f"{GROUP}/merge",
    "POST",
    summary="Merge groups into this one (a job): members join, campaigns re-pointed, sources deleted",
    body="groups.GroupMerge",
    response="groups.JobAccepted",
    status=202,
)
def merge_groups(groupId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.flows import group_merge
    from chalicelib.schemas.groups import GroupMerge

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, GroupMerge)
    return idempotency.respond(
        request, ws, f"groups:{groupId}:merge", lambda: (202, {"jobId": group_merge.start(ws, groupId, body)})
    )


@route(
    bp,
    "/api/v1/contacts/{id}/groups",
    "GET",
    summary="The contact's groups (one Query)",
    query="common.ListQuery",
    response="groups.ContactGroupPage",
)
def contact_groups(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import members
    from chalicelib.schemas.common import ListQuery

    request = bp.current_request
    query = parse_query(request, ListQuery)
    items, cursor = members.contact_groups_page(workspace_id(request), id, query.limit, query.cursor)
    return json_response({"items": items, "nextCursor": cursor})


@route(
    bp,
    "/api/v1/contacts/{id}/groups",
    "PUT",
    summary="Set the contact's groups to exactly this list",
    body="groups.ContactGroupsSet",
    response="groups.ContactGroupsReport",
)
def set_contact_groups(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import memberships
    from chalicelib.schemas.groups import ContactGroupsSet

    request = bp.current_request
    body = parse_body(request, ContactGroupsSet)
    group_ids, added, removed = memberships.set_groups(workspace_id(request), id, body.group_ids)
    return json_response({"groupIds": group_ids, "added": added, "removed": removed})
