"""A contact's timeline: GET /api/v1/contacts/{id}/activity."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_query, route, workspace_id

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/contacts/{id}/activity",
    "GET",
    summary="The contact's timeline, newest first",
    query="common.ListQuery",
    response="activity.ActivityPage",
)
def contact_activity(id: str) -> Response:
    from chalicelib.contacts import activity
    from chalicelib.contacts import service as contacts
    from chalicelib.schemas.common import ListQuery

    request = bp.current_request
    ws = workspace_id(request)
    query = parse_query(request, ListQuery)
    page = activity.timeline(ws, id, query.limit, query.cursor)
    if not page["items"] and not query.cursor:
        contacts.get(ws, id)  # an empty timeline of an unknown contact is a 404
    return json_response(page)
