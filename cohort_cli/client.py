"""The Cohort REST API as the CLI uses it (see shared API.md), over any Transport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from cohort_cli.transport import Reply, Transport

UPLOAD_CHUNK = 256 * 1024


class ApiFailure(Exception):
    """The API (or the upload) answered an error; the message is the API's own."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class CohortClient:
    def __init__(self, base_url: str, api_key: str, transport: Transport) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._transport = transport

    # ---- plumbing -------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Reply:
        params = {k: v for k, v in (query or {}).items() if v is not None}
        url = f"{self.base_url}{path}" + (f"?{urlencode(params)}" if params else "")
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json, text/csv"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        reply = self._transport.send(method, url, headers, data)
        if reply.status >= 400:
            raise ApiFailure(reply.status, _message(reply))
        return reply

    def json(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        return json.loads(self.call(method, path, body, query).body or b"null")

    def pages(self, path: str, limit: int | None = None, **query: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list, following nextCursor (at most `limit`)."""
        cursor, given = None, 0
        while True:
            page = self.json("GET", path, limit=min(500, limit or 500), cursor=cursor, **query)
            for item in page["items"]:
                yield item
                given += 1
                if limit is not None and given >= limit:
                    return
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def fetch(self, url: str) -> bytes:
        """A presigned URL: no API key (S3 refuses two kinds of authentication)."""
        reply = self._transport.send("GET", url, {})
        if reply.status >= 400:
            raise ApiFailure(reply.status, f"download failed ({reply.status})")
        return reply.body

    # ---- groups -----------------------------------------------------------------------------

    def group_id(self, name: str, create: bool) -> tuple[str, bool]:
        """(id, created) of the group with this name (case-insensitive)."""
        wanted = name.casefold()
        for group in self.pages("/api/v1/groups"):
            if str(group["name"]).casefold() == wanted:
                return str(group["id"]), False
        if not create:
            raise ApiFailure(404, f"no group is named {name!r}")
        return str(self.json("POST", "/api/v1/groups", {"name": name})["id"]), True

    # ---- imports ----------------------------------------------------------------------------

    def start_import(self, options: dict[str, Any]) -> dict[str, Any]:
        return dict(self.json("POST", "/api/v1/imports", options))

    def upload(self, url: str, path: Path, progress: Callable[[int], None] | None = None) -> None:
        """PUT the file to a presigned URL in chunks, reporting bytes sent."""
        size = path.stat().st_size

        def chunks() -> Iterable[bytes]:
            with path.open("rb") as handle:
                while chunk := handle.read(UPLOAD_CHUNK):
                    yield chunk
                    if progress:
                        progress(len(chunk))

        headers = {"Content-Length": str(size), "Content-Type": "text/csv"}
        reply = self._transport.send("PUT", url, headers, chunks())
        if reply.status >= 300:
            raise ApiFailure(reply.status, f"the upload was refused ({reply.status}): {reply.body[:300]!r}")

    def import_status(self, import_id: str) -> dict[str, Any]:
        return dict(self.json("GET", f"/api/v1/imports/{import_id}"))

    def import_errors(self, import_id: str) -> bytes:
        return self._csv_or_redirect(f"/api/v1/imports/{import_id}/errors.csv")

    # ---- exports ----------------------------------------------------------------------------

    def export(self, filters: dict[str, Any], wait: Callable[[str], dict[str, Any]]) -> bytes:
        """The CSV; when the API starts an export job (202), `wait(status path)` polls it."""
        reply = self.call("GET", "/api/v1/contacts/export", query=filters)
        if reply.status == 202:
            done = wait(json.loads(reply.body)["statusUrl"])
            return self.fetch(done["downloadUrl"])
        return reply.body

    def _csv_or_redirect(self, path: str) -> bytes:
        reply = self.call("GET", path)
        location = reply.header("Location")
        if reply.status in (302, 303) and location:
            return self.fetch(location)
        return reply.body


def _message(reply: Reply) -> str:
    try:
        error = json.loads(reply.body)["error"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {reply.status}: {reply.body[:200]!r}"
    details = "; ".join(
        f"{d.get('field')}: {d.get('message')}" for d in error.get("details") or [] if d.get("message")
    )
    return f"{error.get('message')} ({error.get('code')})" + (f" - {details}" if details else "")
