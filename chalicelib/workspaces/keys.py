"""A workspace's API keys: several, named, scoped `full` or `read`, revocable.

Resolving a key is one GetItem, cached a minute per container (so a revoked key stops working
everywhere within 60 s, whatever the container); `lastUsedAt` is written on a cache miss only
when it is older than a minute, with a condition that makes it one write a minute a key across
every container. A key made before keys had scopes (workspaces created earlier) becomes a
`full` key named "Default key" the first time it authenticates, in place (same item, same
secret). The workspace counts its live full keys (`fullKeys`): revoking the last one is refused
inside the same transaction, so two revocations at once cannot leave a workspace locked out.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.models.workspaces import ApiKey, Workspace
from chalicelib.platform import clock, ids
from chalicelib.platform.db import cancellation_reasons, connection, is_conditional_failure
from chalicelib.platform.errors import Conflict, NotFound, Unauthorized
from chalicelib.platform.logs import logger
from chalicelib.platform.paged_query import cursor_page

FULL, READ = "full", "read"
SCOPES = (FULL, READ)
KEY_PREFIX = "ck_"
DEFAULT_NAME = "Default key"
_PREFIX_CHARS = 10  # "ck_" and 7 characters of the secret: enough to tell keys apart
# A resolved key stays valid in a warm container this long: one GetItem per minute, not per
# request. It is also how late a revocation can be noticed by another container.
CACHE_SECONDS = 60.0
LAST_USED_EVERY = timedelta(minutes=1)
_FAILED = "ConditionalCheckFailed"  # a cancelled transaction's code for an unmet condition


@dataclass(frozen=True)
class Principal:
    """Who a request is: the key's workspace, the key and its scope."""

    workspace_id: str
    key_id: str
    scope: str


_cache: dict[str, tuple[float, Principal]] = {}


def hash_key(api_key: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_item(workspace_id: str, api_key: str, name: str, scope: str, now: str) -> ApiKey:
    """The item of a new key (not saved)."""
    key_id = ids.new_id()
    return ApiKey(
        *ApiKey.key(hash_key(api_key)),
        workspaceId=workspace_id,
        createdAt=now,
        id=key_id,
        name=name,
        scope=scope,
        prefix=api_key[:_PREFIX_CHARS],
        gsi1pk=ApiKey.list_partition(workspace_id),
        gsi1sk=ApiKey.list_sort(key_id),
    )


# ---- authentication ---------------------------------------------------------------------


def resolve(api_key: str) -> Principal:
    """The principal of an API key; Unauthorized when it is unknown or revoked."""
    if not api_key.startswith(KEY_PREFIX):
        raise Unauthorized("the API key is not valid")
    digest = hash_key(api_key)
    cached = _cache.get(digest)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        item = ApiKey.get(*ApiKey.key(digest))
    except DoesNotExist:
        raise Unauthorized("the API key is not valid") from None
    if item.revokedAt is not None:
        _cache.pop(digest, None)
        raise Unauthorized("the API key has been revoked")
    if item.id is None:
        item = _migrate(item, api_key)
    _note_use(item)
    principal = Principal(item.workspaceId, str(item.id), item.scope or FULL)
    _cache[digest] = (time.monotonic() + CACHE_SECONDS, principal)
    return principal


def _migrate(item: ApiKey, api_key: str) -> ApiKey:
    """A key of the one-key era becomes a full key of this model, in place; idempotent."""
    key_id = ids.new_id()
    try:
        item.update(
            actions=[
                ApiKey.id.set(key_id),
                ApiKey.name.set(DEFAULT_NAME),
                ApiKey.scope.set(FULL),
                ApiKey.prefix.set(api_key[:_PREFIX_CHARS]),
                ApiKey.gsi1pk.set(ApiKey.list_partition(item.workspaceId)),
                ApiKey.gsi1sk.set(ApiKey.list_sort(key_id)),
            ],
            condition=ApiKey.id.does_not_exist(),
        )
    except UpdateError as error:
        if not is_conditional_failure(error):
            raise
        item = ApiKey.get(item.pk, item.sk, consistent_read=True)  # migrated meanwhile
    logger.info("API key migrated to a full key", extra={"workspace_id": item.workspaceId, "key_id": item.id})
    return item


def _note_use(item: ApiKey) -> None:
    """Stamp lastUsedAt when it is over a minute old: at most one write a minute a key."""
    now = clock.now()
    stale = clock.iso(now - LAST_USED_EVERY)
    if item.lastUsedAt is not None and item.lastUsedAt > stale:
        return
    try:
        item.update(
            actions=[ApiKey.lastUsedAt.set(clock.iso(now))],
            condition=ApiKey.lastUsedAt.does_not_exist() | (ApiKey.lastUsedAt < stale),
        )
    except UpdateError as error:
        if not is_conditional_failure(error):
            # Bookkeeping only: a request is not refused because its key's stamp failed.
            logger.warning("could not stamp the API key's lastUsedAt", extra={"key_id": item.id})


def forget_cached() -> None:
    """Empty this container's cache (tests: another container, or a minute later)."""
    _cache.clear()


# ---- management -------------------------------------------------------------------------


def create(workspace_id: str, name: str, scope: str) -> tuple[ApiKey, str]:
    """A new key and its secret (shown once). A full key adds to the workspace's count."""
    api_key = new_secret()
    item = new_item(workspace_id, api_key, name, scope, clock.now_iso())
    with TransactWrite(connection=connection()) as transaction:
        transaction.save(item, condition=ApiKey.pk.does_not_exist())
        if scope == FULL:
            transaction.update(
                Workspace(*Workspace.key(workspace_id)),
                # A workspace of the one-key era has no count: it has that one full key.
                actions=[Workspace.fullKeys.set((Workspace.fullKeys | 1) + 1)],
                condition=Workspace.pk.exists(),
            )
    return item, api_key


def get(workspace_id: str, key_id: str) -> ApiKey:
    found = list(
        ApiKey.gsi1.query(ApiKey.list_partition(workspace_id), ApiKey.gsi1sk == ApiKey.list_sort(key_id))
    )
    if not found or not isinstance(found[0], ApiKey) or found[0].workspaceId != workspace_id:
        raise NotFound("API key not found")
    return found[0]


def list_page(workspace_id: str, limit: int, cursor: str | None) -> tuple[list[ApiKey], str | None]:
    """A page of the workspace's keys, revoked ones included, oldest first: one Query on gsi1."""
    return cursor_page(
        ApiKey,
        ApiKey.list_partition(workspace_id),
        ApiKey.gsi1sk.startswith("KEY#"),
        index="gsi1",
        limit=limit,
        scope=f"{workspace_id}:keys",
        cursor=cursor,
    )


def revoke(workspace_id: str, key_id: str) -> ApiKey:
    """Revoke a key (again: nothing changes). 409 when it is the workspace's last full key."""
    item = get(workspace_id, key_id)
    if item.revokedAt is not None:
        return item
    now = clock.now_iso()
    try:
        with TransactWrite(connection=connection()) as transaction:
            transaction.update(
                item,
                actions=[ApiKey.revokedAt.set(now)],
                condition=ApiKey.revokedAt.does_not_exist() & (ApiKey.workspaceId == workspace_id),
            )
            if (item.scope or FULL) == FULL:
                transaction.update(
                    Workspace(*Workspace.key(workspace_id)),
                    actions=[Workspace.fullKeys.set(Workspace.fullKeys - 1)],
                    condition=Workspace.fullKeys > 1,
                )
    except TransactWriteError as error:
        reasons = [*cancellation_reasons(error), None, None]
        if reasons[1] == _FAILED:
            raise Conflict(
                "this is the workspace's last full key: create another full key before revoking it",
                [{"field": "id", "message": "the last full key cannot be revoked", "keyId": key_id}],
            ) from None
        if reasons[0] == _FAILED:
            return get(workspace_id, key_id)  # revoked meanwhile
        raise
    _cache.pop(hash_key_of(item), None)
    item.revokedAt = now
    return item


def hash_key_of(item: ApiKey) -> str:
    return item.pk.removeprefix("APIKEY#")


def view(item: ApiKey) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name or DEFAULT_NAME,
        "scope": item.scope or FULL,
        "prefix": item.prefix,
        "createdAt": item.createdAt,
        "lastUsedAt": item.lastUsedAt,
        "revokedAt": item.revokedAt,
    }
