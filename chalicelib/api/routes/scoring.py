"""Scoring: /api/v1/scoring (rules, recompute) and a contact's score (API.md "Scoring")."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, parse_query, route, workspace_id

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/scoring/rules",
    "POST",
    summary="A scoring rule: points for an event, or held while a contact matches a filter",
    body="scoring.RuleCreate",
    response="scoring.RuleView",
    status=201,
)
def create_rule() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.api import idempotency
    from chalicelib.schemas.scoring import RuleCreate
    from chalicelib.scoring import rules

    request = bp.current_request
    ws = workspace_id(request)
    body = parse_body(request, RuleCreate)

    def produce() -> tuple[int, dict[str, object]]:
        return 201, rules.create(ws, body)

    return idempotency.respond(request, ws, "scoring:rules:create", produce)


@route(
    bp,
    "/api/v1/scoring/rules",
    "GET",
    summary="The workspace's scoring rules",
    query="scoring.RuleQuery",
    response="scoring.RulePage",
)
def list_rules() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.schemas.scoring import RuleQuery
    from chalicelib.scoring import rules

    request = bp.current_request
    query = parse_query(request, RuleQuery)
    return json_response(rules.page(workspace_id(request), query.limit, query.cursor))


@route(bp, "/api/v1/scoring/rules/{id}", "GET", summary="One scoring rule", response="scoring.RuleView")
def get_rule(id: str) -> Response:
    from chalicelib.scoring import rules  # cold start: loaded on first use

    return json_response(rules.get(workspace_id(bp.current_request), id))


@route(
    bp,
    "/api/v1/scoring/rules/{id}",
    "PATCH",
    summary="Change a rule: new events score by it; a recompute reaches the past",
    body="scoring.RulePatch",
    response="scoring.RuleView",
)
def patch_rule(id: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.schemas.scoring import RulePatch
    from chalicelib.scoring import rules

    request = bp.current_request
    body = parse_body(request, RulePatch)
    return json_response(rules.update(workspace_id(request), id, body))


@route(
    bp,
    "/api/v1/scoring/rules/{id}",
    "DELETE",
    summary="Delete a rule; a job then takes back the points it gave (every contact's awards by it)",
    status=204,
)
def delete_rule(id: str) -> Response:
    from chalicelib.scoring import recompute  # cold start: loaded on first use

    recompute.delete_rule(workspace_id(bp.current_request), id)
    return Response(body="", status_code=204)


@route(
    bp,
    "/api/v1/scoring/recompute",
    "POST",
    summary="Apply a rule (or every active one) to existing contacts and past events, as a job",
    body="scoring.RecomputeBody",
    response="scoring.RecomputeAccepted",
    status=202,
)
def recompute() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.schemas.scoring import RecomputeBody
    from chalicelib.scoring import recompute as job

    request = bp.current_request
    body = parse_body(request, RecomputeBody)
    return json_response(job.start(workspace_id(request), body.rule_id), 202)


@route(
    bp,
    "/api/v1/contacts/{id}/score",
    "GET",
    summary="A contact's score and the live awards that make it",
    response="scoring.ScoreView",
)
def contact_score(id: str) -> Response:
    from chalicelib.scoring import score  # cold start: loaded on first use

    return json_response(score.view(workspace_id(bp.current_request), id))
