"""Helpers of the import, export and CLI tests: the corpus of awkward files, running an import
through the API and the event pump, and reading the workspace's contacts back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests as http

from devstack.pump import Pump
from tests.support.api import Api

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "csv"


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def import_body(api: Api, pump: Pump, data: bytes, **query: Any) -> dict[str, Any]:
    """POST a text/csv body, run the queue until idle, and return the import's view."""
    suffix = f"?{urlencode(query)}" if query else ""
    created = api.post("/api/v1/imports" + suffix, raw=data, headers={"Content-Type": "text/csv"})
    assert created.status == 201, created.json
    return finish(api, pump, created.json["id"])


def import_upload(api: Api, pump: Pump, data: bytes, **options: Any) -> dict[str, Any]:
    """Ask for an upload URL, PUT the file there (moto answers it), run the queue, view."""
    created = api.post("/api/v1/imports", options)
    assert created.status == 201, created.json
    assert created.json["uploadMethod"] == "PUT"
    put = http.put(created.json["uploadUrl"], data=data, timeout=10)
    assert put.status_code == 200, put.text
    return finish(api, pump, created.json["id"])


def finish(api: Api, pump: Pump, import_id: str) -> dict[str, Any]:
    calls = pump.drain()
    assert all(call.ok for call in calls), [call.error for call in calls if not call.ok]
    view = api.get(f"/api/v1/imports/{import_id}")
    assert view.status == 200, view.json
    return view.json


def contacts_by_email(api: Api) -> dict[str, dict[str, Any]]:
    """Every contact of the workspace (all pages), by email (phone for phone-only ones)."""
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        page = api.get("/api/v1/contacts?limit=500" + (f"&cursor={cursor}" if cursor else "")).json
        for contact in page["items"]:
            found[contact["email"] or contact["phone"]] = contact
        cursor = page["nextCursor"]
        if not cursor:
            return found


def outcomes(view: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """row -> (result, reason) of the rows the import reported."""
    return {error["row"]: (error["result"], error["reason"]) for error in view["errors"]}


@contextmanager
def killed_at(client: Any, operation: str, match: str, nth: int = 1) -> Iterator[dict[str, int]]:
    """Kill the handler (an exception, as when Lambda dies) at the `nth` `operation` request of
    `client` whose body contains `match`; once. Injected through botocore's own before-call
    event, so everything before that request really happened and nothing after it did."""
    state = {"seen": 0, "killed": 0}

    def kill(params: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or b""
        text = body.decode() if isinstance(body, bytes) else str(body)
        if match in text and not state["killed"]:
            state["seen"] += 1
            if state["seen"] == nth:
                state["killed"] += 1
                raise Killed(f"killed at {operation} #{nth}")

    event = f"before-call.{client.meta.service_model.service_name}.{operation}"
    client.meta.events.register_first(event, kill, unique_id="test-import-kill")
    try:
        yield state
    finally:
        client.meta.events.unregister(event, unique_id="test-import-kill")


class Killed(RuntimeError):
    """The injected death of a handler."""
