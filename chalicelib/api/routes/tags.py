"""Routes of /api/v1/tags: the tags with their contact counts, rename and merge."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, parse_query, route, workspace_id

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/tags",
    "GET",
    summary="The tags in use, with how many contacts carry each",
    query="common.ListQuery",
    response="contacts.TagPage",
)
def list_tags() -> Response:
    from chalicelib.contacts import tags
    from chalicelib.schemas.common import ListQuery

    request = bp.current_request
    query = parse_query(request, ListQuery)
    items, cursor = tags.list_page(workspace_id(request), query.limit, query.cursor)
    body = [{"tag": item.name, "contactCount": int(item.contactCount)} for item in items]
    return json_response({"items": body, "nextCursor": cursor})


@route(
    bp,
    "/api/v1/tags/rename",
    "POST",
    summary="Rename a tag on all its contacts (onto an existing tag: merge); done=false: call again",
    body="contacts.TagRename",
    response="contacts.TagRenamed",
)
def rename_tag() -> Response:
    from chalicelib.contacts import tags
    from chalicelib.schemas.contacts import TagRename

    request = bp.current_request
    body = parse_body(request, TagRename)
    ws = workspace_id(request)
    merged, changed, done = tags.rename(ws, body.from_, body.to)
    answer = {"tag": body.to, "merged": merged, "contactsChanged": changed, "done": done}
    return json_response({**answer, "contactCount": tags.count(ws, body.to)})


@route(
    bp,
    "/api/v1/tags/merge",
    "POST",
    summary="Merge several tags into one, on all their contacts",
    body="contacts.TagMerge",
    response="contacts.TagRenamed",
)
def merge_tags() -> Response:
    from chalicelib.contacts import tags
    from chalicelib.schemas.contacts import TagMerge

    request = bp.current_request
    body = parse_body(request, TagMerge)
    ws = workspace_id(request)
    merged, changed, done = tags.count(ws, body.into) > 0, 0, True
    for source in dict.fromkeys(body.from_):
        if source != body.into and done:
            was_merge, count, done = tags.rename(ws, source, body.into)
            merged, changed = merged or was_merge, changed + count
    answer = {"tag": body.into, "merged": merged, "contactsChanged": changed, "done": done}
    return json_response({**answer, "contactCount": tags.count(ws, body.into)})
