"""Workspaces: creation (with their first API key), what the workspace sees of itself.
The keys themselves: chalicelib/workspaces/keys.py."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.models.plans import contact_limit
from chalicelib.models.workspaces import ApiKey, Workspace, WorkspaceRequest
from chalicelib.platform import clock, config, ids
from chalicelib.platform.db import connection, is_conditional_failure
from chalicelib.platform.errors import Conflict, Forbidden, NotFound, Unauthorized
from chalicelib.workspaces import keys

IDEMPOTENCY_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Created:
    workspace: Workspace
    api_key: str


def check_admin_token(token: str | None) -> None:
    expected = config.admin_token()
    if not token:
        raise Unauthorized("X-Admin-Token header is required")
    if expected is None or not hmac.compare_digest(token, expected):
        raise Forbidden("the admin token is not valid")


def create(
    name: str, plan: str, default_region: str = "FR", *, idempotency: tuple[str, str] | None = None
) -> Created:
    """A workspace and its API key. `idempotency` (key, hash of the body): a second creation
    with the same key is a 409 naming the first workspace (its API key was shown once and is
    not stored, so it cannot be answered again); with another body, a 409 too."""
    workspace_id = ids.new_id()
    api_key = keys.new_secret()
    now = clock.now_iso()
    pk, sk = Workspace.key(workspace_id)
    workspace = Workspace(
        pk, sk, id=workspace_id, name=name, plan=plan, defaultRegion=default_region, createdAt=now, fullKeys=1
    )
    key = keys.new_item(workspace_id, api_key, keys.DEFAULT_NAME, keys.FULL, now)
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(workspace, condition=Workspace.pk.does_not_exist())
            transaction.save(key, condition=ApiKey.pk.does_not_exist())
            if idempotency is not None:
                request = WorkspaceRequest(
                    *WorkspaceRequest.key(idempotency[0]),
                    workspaceId=workspace_id,
                    bodyHash=idempotency[1],
                    ttl=clock.now() + IDEMPOTENCY_TTL,
                )
                transaction.save(request, condition=WorkspaceRequest.pk.does_not_exist())
    except TransactWriteError:
        if idempotency is None:
            raise
        _replayed(*idempotency)
        raise
    return Created(workspace, api_key)


def _replayed(idempotency_key: str, body_hash: str) -> None:
    """Raise the 409 of a creation already made with this Idempotency-Key, if it was one."""
    try:
        first = WorkspaceRequest.get(*WorkspaceRequest.key(idempotency_key), consistent_read=True)
    except DoesNotExist:
        return
    if first.bodyHash != body_hash:
        raise Conflict(
            "this Idempotency-Key was used with another body",
            [{"field": "Idempotency-Key", "message": "reused with a different body"}],
        )
    raise Conflict(
        "this Idempotency-Key already created a workspace; its API key was shown once",
        [{"field": "Idempotency-Key", "existingWorkspaceId": first.workspaceId}],
    )


def get(workspace_id: str) -> Workspace:
    try:
        return Workspace.get(*Workspace.key(workspace_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound("workspace not found") from None


def describe(workspace: Workspace) -> dict[str, object]:
    return {
        "id": workspace.id,
        "name": workspace.name,
        "plan": workspace.plan,
        "contactLimit": contact_limit(workspace.plan),
        "contactCount": int(workspace.contactCount),
        "defaultRegion": workspace.defaultRegion,
        "requireConsent": bool(workspace.requireConsent),
        "createdAt": workspace.createdAt,
    }


def update(workspace_id: str, *, require_consent: bool) -> Workspace:
    """Change the workspace's settings; one UpdateItem (conditioned on the workspace existing)."""
    workspace = Workspace(*Workspace.key(workspace_id))
    try:
        workspace.update([Workspace.requireConsent.set(require_consent)], condition=Workspace.pk.exists())
    except UpdateError as error:
        if is_conditional_failure(error):
            raise NotFound("workspace not found") from None
        raise
    return workspace
