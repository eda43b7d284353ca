"""Routes of /api/v1/campaigns, and a contact's enrollments (/api/v1/contacts/{id}/enrollments).

See docs/api.md, section Campaigns. Views parse, call the domain, answer. The domain
modules load pydantic (the step schemas), so views import them when they run: importing
the app stays cheap (cold start).
"""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api import idempotency
from chalicelib.api.http import json_response, parse_body, parse_query, route, workspace_id

bp = Blueprint(__name__)

CAMPAIGNS = "/api/v1/campaigns"
CAMPAIGN = "/api/v1/campaigns/{id}"


@route(
    bp,
    CAMPAIGNS,
    "POST",
    summary="Create a campaign (DRAFT): sender, steps, included and excluded groups",
    body="campaigns.CampaignCreate",
    response="campaigns.CampaignView",
    status=201,
)
def create_campaign() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import service as campaigns
    from chalicelib.schemas.campaigns import CampaignCreate

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, CampaignCreate)
    return idempotency.respond(
        request, ws, "campaigns:create", lambda: (201, campaigns.view(campaigns.create(ws, body)))
    )


@route(
    bp,
    CAMPAIGNS,
    "GET",
    summary="List the campaigns, oldest first (filter: status)",
    query="campaigns.CampaignListQuery",
    response="campaigns.CampaignPage",
)
def list_campaigns() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import service as campaigns
    from chalicelib.schemas.campaigns import CampaignListQuery

    request = bp.current_request
    query = parse_query(request, CampaignListQuery)
    items, cursor = campaigns.list_page(workspace_id(request), query.limit, query.cursor, query.status)
    return json_response({"items": [campaigns.view(c) for c in items], "nextCursor": cursor})


@route(bp, CAMPAIGN, "GET", summary="Read a campaign", response="campaigns.CampaignView")
def get_campaign(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import service as campaigns

    return json_response(campaigns.view(campaigns.get(workspace_id(bp.current_request), id)))


@route(
    bp,
    CAMPAIGN,
    "PATCH",
    summary="Change a campaign (steps in DRAFT/PAUSED, groups in DRAFT; status COMPLETED ends it)",
    body="campaigns.CampaignPatch",
    response="campaigns.CampaignView",
)
def patch_campaign(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import service as campaigns
    from chalicelib.schemas.campaigns import CampaignPatch

    request = bp.current_request
    patch = parse_body(request, CampaignPatch)
    return json_response(campaigns.view(campaigns.update(workspace_id(request), id, patch)))


@route(bp, CAMPAIGN, "DELETE", summary="Delete a DRAFT or COMPLETED campaign", status=204)
def delete_campaign(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import service as campaigns

    campaigns.delete(workspace_id(bp.current_request), id)
    return Response(body="", status_code=204)


@route(
    bp,
    f"{CAMPAIGN}/launch",
    "POST",
    summary="Launch: RUNNING, members of the included groups are enrolled in the background",
    response="campaigns.CampaignView",
    status=202,
)
def launch_campaign(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import service as campaigns

    return json_response(campaigns.view(campaigns.launch(workspace_id(bp.current_request), id)), 202)


@route(
    bp,
    f"{CAMPAIGN}/pause",
    "POST",
    summary="Pause: nothing is sent until resumed",
    response="campaigns.CampaignView",
)
def pause_campaign(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import service as campaigns

    return json_response(campaigns.view(campaigns.pause(workspace_id(bp.current_request), id)))


@route(
    bp,
    f"{CAMPAIGN}/resume",
    "POST",
    summary="Resume: each enrollment goes on from the step it was at",
    response="campaigns.CampaignView",
)
def resume_campaign(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import service as campaigns

    return json_response(campaigns.view(campaigns.resume(workspace_id(bp.current_request), id)))


@route(
    bp,
    f"{CAMPAIGN}/enrollments",
    "GET",
    summary="The campaign's enrollments (filter: status)",
    query="campaigns.EnrollmentListQuery",
    response="campaigns.EnrollmentPage",
)
def campaign_enrollments(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import enrollment
    from chalicelib.campaigns import service as campaigns
    from chalicelib.schemas.campaigns import EnrollmentListQuery

    request = bp.current_request
    ws = workspace_id(request)
    query = parse_query(request, EnrollmentListQuery)
    campaign = campaigns.get(ws, id)
    items, cursor = enrollment.campaign_page(ws, campaign.id, query.limit, query.cursor, query.status)
    return json_response({"items": [enrollment.view(e, campaign.name) for e in items], "nextCursor": cursor})


@route(
    bp,
    f"{CAMPAIGN}/overview",
    "GET",
    summary="Totals and per-group figures: contacts, sent, opened, clicked, rates",
    response="campaigns.CampaignOverview",
)
def campaign_overview(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import service as campaigns
    from chalicelib.campaigns import stats as campaign_stats

    ws = workspace_id(bp.current_request)
    return json_response(campaign_stats.overview(ws, campaigns.get(ws, id)))


@route(
    bp,
    "/api/v1/contacts/{id}/enrollments",
    "GET",
    summary="The contact's enrollments in every campaign",
    query="common.ListQuery",
    response="campaigns.EnrollmentPage",
)
def contact_enrollments(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.campaigns import enrollment
    from chalicelib.schemas.common import ListQuery

    request = bp.current_request
    query = parse_query(request, ListQuery)
    items, cursor = enrollment.contact_page(workspace_id(request), id, query.limit, query.cursor)
    return json_response({"items": items, "nextCursor": cursor})
