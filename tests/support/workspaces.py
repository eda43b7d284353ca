"""Workspaces in tests: the id behind an API key."""

from __future__ import annotations

from tests.support.api import Api


def workspace_of(api: Api) -> str:
    return api.get("/api/v1/workspace").json["id"]
