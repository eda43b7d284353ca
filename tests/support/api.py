"""A thin wrapper over Chalice's test client that speaks the Cohort API (JSON, bearer key)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalice.test import Client

from tests.support import contract


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def error_code(self) -> str | None:
        data = self.json
        return data.get("error", {}).get("code") if isinstance(data, dict) else None


class Api:
    def __init__(self, client: Client, key: str | None = None) -> None:
        self.client = client
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        headers: dict[str, str | None] | None = None,
    ) -> Reply:
        """`headers` add to or replace the defaults; a None value leaves that header out."""
        sent_headers: dict[str, str | None] = {"Content-Type": "application/json"}
        if self.key:
            sent_headers["Authorization"] = f"Bearer {self.key}"
        sent_headers.update(headers or {})
        sent_headers = {name: value for name, value in sent_headers.items() if value is not None}
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=sent_headers, body=payload)
        reply = Reply(response.status_code, response.body or b"", dict(response.headers))
        contract.check(method, path, reply.status, reply.headers, reply.body)
        return reply

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("PATCH", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.call("DELETE", path, **kw)
