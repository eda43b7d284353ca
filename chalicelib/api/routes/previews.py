"""A campaign email before it goes out: POST /api/v1/campaigns/{id}/test (a test send) and
GET /api/v1/campaigns/{id}/steps/{stepId}/preview."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, parse_query, route, workspace_id

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/campaigns/{id}/test",
    "POST",
    summary="Send an email step to up to 5 addresses, subject prefixed [TEST]; nothing is counted",
    body="previews.TestSend",
    response="previews.TestSendResult",
)
def test_send(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import previews
    from chalicelib.schemas.previews import TestSend

    request = bp.current_request
    ws = workspace_id(request)
    campaign = previews.campaign(ws, id)
    body = parse_body(request, TestSend)
    rendered, sent = previews.send_test(ws, campaign, body.to, body.step_id, body.contact_id)
    return json_response(
        {
            "stepId": rendered.step_id,
            "contactId": rendered.contact_id,
            "subject": previews.TEST_PREFIX + rendered.email.subject,
            "sent": sent,
        }
    )


@route(
    bp,
    "/api/v1/campaigns/{id}/steps/{stepId}/preview",
    "GET",
    summary="An email step rendered for a contact (or sample data), links as they would go out",
    query="previews.PreviewQuery",
    response="previews.Preview",
)
def preview(id: str, stepId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import previews
    from chalicelib.schemas.previews import PreviewQuery

    request = bp.current_request
    ws = workspace_id(request)
    campaign = previews.campaign(ws, id)
    query = parse_query(request, PreviewQuery)
    rendered = previews.render(ws, campaign, stepId, query.contact_id)
    email = rendered.email
    return json_response(
        {
            "stepId": rendered.step_id,
            "contactId": rendered.contact_id,
            "fromEmail": email.sender,
            "to": email.to,
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
            "headers": email.headers,
        }
    )
