"""Routes of /api/v1/jobs: the progress of a background job (see docs/api.md)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, route, workspace_id

bp = Blueprint(__name__)


@route(bp, "/api/v1/jobs/{jobId}", "GET", summary="A background job's progress", response="jobs.JobView")
def get_job(jobId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import jobs

    return json_response(jobs.view(jobs.get(workspace_id(bp.current_request), jobId)))
