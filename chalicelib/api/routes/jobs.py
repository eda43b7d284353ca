"""Routes of /api/v1/jobs: the progress of a background job and its error report (see docs/api.md)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, route, workspace_id

bp = Blueprint(__name__)


@route(bp, "/api/v1/jobs/{jobId}", "GET", summary="A background job's progress", response="jobs.JobView")
def get_job(jobId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import jobs

    return json_response(jobs.view(jobs.get(workspace_id(bp.current_request), jobId)))


@route(
    bp,
    "/api/v1/jobs/{jobId}/errors.csv",
    "GET",
    summary="Every contact a finished job could not act on, with why (303 to a download when large)",
    response_content_type="text/csv",
    errors=(409,),
)
def job_errors(jobId: str) -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.groups import job_report, jobs

    report = job_report.report(jobs.get(workspace_id(bp.current_request), jobId))
    if report.url is not None:
        return Response(body="", status_code=303, headers={"Location": report.url})
    headers: dict[str, str | list[str]] = {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="job-{jobId}-errors.csv"',
    }
    return Response(body=(report.body or b"").decode("utf-8"), status_code=200, headers=headers)
