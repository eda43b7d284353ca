"""Workspaces: admin creation, and the workspace a key belongs to."""

from __future__ import annotations

import hashlib
from typing import cast

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, parse_body, route, workspace_id
from chalicelib.platform.errors import field_error
from chalicelib.workspaces import service as workspaces

bp = Blueprint(__name__)


@route(
    bp,
    "/api/v1/workspaces",
    "POST",
    summary="Create a workspace and its API key (admin token)",
    body="workspaces.WorkspaceCreate",
    response="workspaces.WorkspaceCreated",
    status=201,
    public=True,
    errors=(401,),  # no API key, but the admin token
)
def create_workspace() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.schemas.workspaces import WorkspaceCreate, WorkspaceCreated

    request = bp.current_request
    workspaces.check_admin_token(request.headers.get("x-admin-token"))
    body = parse_body(request, WorkspaceCreate)
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise field_error("Idempotency-Key", "must be 1 to 255 characters")
    # chalice types raw_body str | bytes: always bytes
    digest = hashlib.sha256(cast(bytes, request.raw_body) or b"").hexdigest()
    created = workspaces.create(
        body.name, body.plan.value, body.default_region, idempotency=(key, digest) if key else None
    )
    answer = WorkspaceCreated(
        id=created.workspace.id, name=created.workspace.name, plan=body.plan, api_key=created.api_key
    )
    return json_response(answer, 201)


@route(
    bp,
    "/api/v1/workspace",
    "GET",
    summary="The workspace of the API key",
    response="workspaces.WorkspaceView",
)
def get_workspace() -> Response:
    workspace = workspaces.get(workspace_id(bp.current_request))
    return json_response(workspaces.describe(workspace))


@route(
    bp,
    "/api/v1/workspace",
    "PATCH",
    summary="Change the workspace's settings (requireConsent)",
    body="workspaces.WorkspacePatch",
    response="workspaces.WorkspaceView",
)
def patch_workspace() -> Response:
    # cold start: loaded on first use, not at the API's import
    from chalicelib.schemas.workspaces import WorkspacePatch

    request = bp.current_request
    body = parse_body(request, WorkspacePatch)
    return json_response(
        workspaces.describe(workspaces.update(workspace_id(request), require_consent=body.require_consent))
    )
