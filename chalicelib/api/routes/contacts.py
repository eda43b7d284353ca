"""Routes of /api/v1/contacts (see docs/api.md, section Contacts).

Views import the domain inside the function: it pulls in pydantic and the contact modules,
which the cold start of the other routes should not pay for.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, read_json, route, workspace_id
from chalicelib.platform.errors import InvalidRequest

bp = Blueprint(__name__)


def _body() -> dict[str, Any]:
    data = read_json(bp.current_request)
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    return data


# Kept by Cohort, never written by a client: a create or sync leaves it out with a warning
# (PATCH refuses it as any unknown field, 422).
_READ_ONLY = {"score": "read-only: the sum of the scoring rules' awards"}


def _left_out_read_only(data: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"field": name, "value": str(data.pop(name)), "reason": reason}
        for name, reason in _READ_ONLY.items()
        if name in data
    ]


@route(
    bp,
    "/api/v1/contacts",
    "POST",
    summary=(
        "Create a contact (409 when its email, or a phone-only contact's phone, is taken); a bad "
        "secondary value (a phone beside a valid email, a custom field's type...) is left out, "
        "in `warnings`"
    ),
    body="contacts.ContactCreate",
    response="contacts.ContactCreated",
    status=201,
    errors=(402,),
)
def create_contact() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.contacts import service as contacts
    from chalicelib.flows import contacts as contact_flows

    request = bp.current_request
    ws = workspace_id(request)

    def produce() -> tuple[int, dict[str, Any]]:
        body = _body()
        refused = _left_out_read_only(body)
        contact, left_out = contact_flows.create(ws, body, source="api")
        warnings = [*refused, *left_out]
        # The contact as GET shows it; `warnings` only when a value was left out.
        return 201, {**contacts.view(contact), **({"warnings": warnings} if warnings else {})}

    return idempotency.respond(request, ws, "contacts.create", produce)


@route(
    bp,
    "/api/v1/contacts/sync",
    "POST",
    summary="Create or update a contact by email and phone (the matching rules)",
    body="contacts.ContactCreate",
    response="contacts.SyncAnswer",
    status=200,
    errors=(402,),
)
def sync_contact() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.contacts import service as contacts
    from chalicelib.flows import contacts as contact_flows

    request = bp.current_request
    ws = workspace_id(request)

    def produce() -> tuple[int, dict[str, Any]]:
        body = _body()
        refused = _left_out_read_only(body)
        synced = contact_flows.sync(ws, body, source="api")
        status = 201 if synced.result == "created" else 200
        answer = {"contact": contacts.view(synced.contact), "result": synced.result}
        warnings = [*refused, *synced.warnings]
        return status, {**answer, "warnings": warnings, "unarchived": synced.unarchived}

    return idempotency.respond(request, ws, "contacts.sync", produce)


@route(
    bp,
    "/api/v1/contacts",
    "GET",
    summary="List contacts; filters status, tag, groupId, pipelineStage, q (prefix of email or name)",
    query="contacts.ContactListQuery",
    response="contacts.ContactPage",
)
def list_contacts() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api.http import parse_query
    from chalicelib.contacts import service as contacts
    from chalicelib.contacts.search import ContactFilters, search
    from chalicelib.schemas.contacts import ContactListQuery

    request = bp.current_request
    query = parse_query(request, ContactListQuery)
    filters = ContactFilters(
        status=query.status,
        tag=query.tag,
        group_id=query.group_id,
        pipeline_stage=query.pipeline_stage,
        q=query.q,
        archived=query.archived,
    )
    items, cursor = search(workspace_id(request), filters, limit=query.limit, cursor=query.cursor)
    return json_response({"items": [contacts.view(item) for item in items], "nextCursor": cursor})


@route(
    bp,
    "/api/v1/contacts/search",
    "POST",
    summary="Contacts matching a filter (all/any/not of field conditions), a page per cursor",
    body="filters.SearchBody",
    response="filters.SearchPage",
)
def search_contacts() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.contacts import service as contacts
    from chalicelib.schemas.filters import SearchBody
    from chalicelib.segments import rules
    from chalicelib.segments.search import search

    request = bp.current_request
    body = parse_body(request, SearchBody)
    ws = workspace_id(request)
    checked = rules.check(ws, body.filter)
    items, cursor, scanned = search(ws, checked, limit=body.limit, cursor=body.cursor)
    answer = {"items": [contacts.view(item) for item in items], "nextCursor": cursor, "scanned": scanned}
    return json_response(answer)


@route(
    bp,
    "/api/v1/contacts/search/count",
    "POST",
    summary="How many contacts match a filter (exact, or a lower bound when too many to read)",
    body="filters.CountBody",
    response="filters.CountAnswer",
)
def count_contacts() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.schemas.filters import CountBody
    from chalicelib.segments import rules
    from chalicelib.segments.search import count

    request = bp.current_request
    body = parse_body(request, CountBody)
    ws = workspace_id(request)
    total, exact = count(ws, rules.check(ws, body.filter))
    return json_response({"count": total, "exact": exact})


@route(
    bp,
    "/api/v1/contacts/bulk",
    "POST",
    summary="Start an action on every contact a filter matches (a job: GET /jobs/{id}, its errors.csv)",
    body="filters.BulkBody",
    response="groups.JobAccepted",
    status=202,
)
def bulk_contacts() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.flows import contact_bulk
    from chalicelib.schemas.filters import BulkBody

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, BulkBody)
    return idempotency.respond(
        request, ws, "contacts.bulk", lambda: (202, {"jobId": contact_bulk.start(ws, body)})
    )


@route(bp, "/api/v1/contacts/{id}", "GET", summary="A contact", response="contacts.ContactView")
def get_contact(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.contacts import service as contacts

    return json_response(contacts.view(contacts.get(workspace_id(bp.current_request), id)))


@route(
    bp,
    "/api/v1/contacts/{id}",
    "PATCH",
    summary="Change a contact's fields (null clears; tags replaced; customFields merged)",
    body="contacts.ContactPatch",
    response="contacts.ContactView",
)
def patch_contact(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.contacts import service as contacts

    contact = contacts.patch(workspace_id(bp.current_request), id, _body())
    return json_response(contacts.view(contact))


@route(bp, "/api/v1/contacts/{id}", "DELETE", summary="Delete a contact and its memberships", status=204)
def delete_contact(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.flows import contacts as contact_flows

    contact_flows.delete(workspace_id(bp.current_request), id)
    return Response(body="", status_code=204)


@route(
    bp,
    "/api/v1/contacts/{id}/anonymize",
    "POST",
    summary="GDPR erasure: personal fields erased, status BLOCKED, only keyed hashes kept",
    response="contacts.ContactView",
)
def anonymize_contact(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.contacts import gdpr
    from chalicelib.contacts import service as contacts

    return json_response(contacts.view(gdpr.anonymize(workspace_id(bp.current_request), id)))


@route(
    bp,
    "/api/v1/contacts/{id}/archive",
    "POST",
    summary="Archive a contact: kept whole, out of lists, searches, counts, enrollment and the plan",
    response="contacts.ContactView",
)
def archive_contact(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.contacts import archive
    from chalicelib.contacts import service as contacts

    return json_response(contacts.view(archive.archive(workspace_id(bp.current_request), id)))


@route(
    bp,
    "/api/v1/contacts/{id}/unarchive",
    "POST",
    summary="Unarchive a contact (402 when the plan has no room for it)",
    response="contacts.ContactView",
    errors=(402,),
)
def unarchive_contact(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.contacts import archive
    from chalicelib.contacts import service as contacts

    return json_response(contacts.view(archive.unarchive(workspace_id(bp.current_request), id)))
