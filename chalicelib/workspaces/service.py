"""Workspaces and their API keys: creation, key resolution, what the workspace sees of itself."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.models.plans import contact_limit
from chalicelib.models.workspaces import ApiKey, Workspace, WorkspaceRequest
from chalicelib.platform import clock, config, ids
from chalicelib.platform.db import connection
from chalicelib.platform.errors import Conflict, Forbidden, NotFound, Unauthorized

_KEY_PREFIX = "ck_"
# A resolved key stays valid in a warm container this long: one GetItem per minute, not per request.
_CACHE_SECONDS = 60.0
_key_cache: dict[str, tuple[float, str]] = {}
IDEMPOTENCY_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Created:
    workspace: Workspace
    api_key: str


def hash_key(api_key: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(api_key.encode()).hexdigest()


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
    api_key = _KEY_PREFIX + secrets.token_urlsafe(32)
    now = clock.now_iso()
    pk, sk = Workspace.key(workspace_id)
    workspace = Workspace(
        pk, sk, id=workspace_id, name=name, plan=plan, defaultRegion=default_region, createdAt=now
    )
    key_pk, key_sk = ApiKey.key(hash_key(api_key))
    key = ApiKey(key_pk, key_sk, workspaceId=workspace_id, createdAt=now)
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


def resolve_key(api_key: str) -> str:
    """The workspace id of an API key; Unauthorized when it is unknown."""
    if not api_key.startswith(_KEY_PREFIX):
        raise Unauthorized("the API key is not valid")
    digest = hash_key(api_key)
    cached = _key_cache.get(digest)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        item = ApiKey.get(*ApiKey.key(digest))
    except DoesNotExist:
        raise Unauthorized("the API key is not valid") from None
    _key_cache[digest] = (time.monotonic() + _CACHE_SECONDS, item.workspaceId)
    return item.workspaceId


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
        "createdAt": workspace.createdAt,
    }
