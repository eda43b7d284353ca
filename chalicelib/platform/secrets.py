"""AWS Secrets Manager: the passwords of database syncs, one secret each, named
`cohort/syncs/<workspace>/<sync id>` (the Lambda role may touch only `cohort/*`).

A password is written here and read back only by the code that connects; it is never stored
in the table, never in an API answer and never in a log line.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

PREFIX = "cohort/syncs/"


@lru_cache(maxsize=1)
def _client() -> Any:
    # cold start: boto3 is loaded on first use
    import boto3

    return boto3.client("secretsmanager")


def sync_secret_name(workspace_id: str, sync_id: str) -> str:
    return f"{PREFIX}{workspace_id}/{sync_id}"


def put(name: str, value: str) -> None:
    """Create the secret, or give it a new value when it exists (idempotent)."""
    client = _client()
    try:
        client.put_secret_value(SecretId=name, SecretString=value)
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(Name=name, SecretString=value)


def get(name: str) -> str | None:
    """The secret's value; None when it does not exist (deleted with its sync)."""
    client = _client()
    try:
        return str(client.get_secret_value(SecretId=name)["SecretString"])
    except client.exceptions.ResourceNotFoundException:
        return None


def delete(name: str) -> None:
    """Delete at once (no recovery window: the sync that used it is gone); idempotent."""
    client = _client()
    try:
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    except client.exceptions.ResourceNotFoundException:
        return
