"""The benches' API client: the app's routes through Chalice's test client (as Lambda runs
them), each call checked against the status it must answer."""

from __future__ import annotations

import json
import os
from typing import Any


class BenchApi:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.key: str | None = None

    def workspace(self, name: str = "Bench", plan: str = "PRO") -> dict[str, Any]:
        """Create a workspace and use its API key from now on; returns the workspace."""
        created: dict[str, Any] = self.call(
            "post", "/api/v1/workspaces", {"name": name, "plan": plan}, 201, admin=True
        )
        self.key = created["apiKey"]
        return created

    def call(self, method: str, path: str, body: Any, status: int, admin: bool = False) -> Any:
        headers = {"Content-Type": "application/json"}
        if admin:
            headers["X-Admin-Token"] = os.environ["COHORT_ADMIN_TOKEN"]
        elif self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        payload = json.dumps(body) if body is not None else None
        reply = getattr(self.client.http, method)(path, headers=headers, body=payload)
        if reply.status_code != status:
            raise RuntimeError(f"{method.upper()} {path}: {reply.status_code} {reply.body[:300]!r}")
        return json.loads(reply.body) if reply.body else None
