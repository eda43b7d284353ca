"""An import killed halfway and restarted ends with the same contacts, counters and report as an
uninterrupted one: the handler is killed (botocore's before-call event raises) at the worst
moments of a step, SQS delivers the step again, and the result is compared with a clean run
of the same file in another workspace.

Steps are made small here (CHUNK_ROWS, a tunable of the module) so a 50-row file takes
several steps; the 100,000-row run is bench/imports.py."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.exchange import import_start, import_steps
from chalicelib.platform import config, queues
from chalicelib.platform.db import connection
from tests.support.api import Api
from tests.support.imports import contacts_by_email, killed_at

ROWS = 50


def the_file() -> bytes:
    lines = ["email,first name,last name,company,tags"]
    for i in range(1, ROWS + 1):
        if i == 25:
            lines.append("not-an-email,Bad,Row,,")
        elif i == 45:  # the same person as row 5, two steps further: merged into the same contact
            lines.append("PERSON5@example.com,,,Late Company,late")
        else:
            lines.append(f"person{i}@example.com,First{i},Last{i},Company {i % 7},t{i % 3}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(autouse=True)
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_steps, "CHUNK_ROWS", 20)


def run(api: Api, pump: Any) -> tuple[dict[str, Any], list[Any]]:
    created = api.post("/api/v1/imports", raw=the_file(), headers={"Content-Type": "text/csv"})
    assert created.status == 201
    calls = pump.drain()
    return api.get(f"/api/v1/imports/{created.json['id']}").json, calls


def comparable(api: Api) -> dict[str, tuple[Any, ...]]:
    return {
        email: (c["firstName"], c["lastName"], c["company"], tuple(c["tags"]), c["status"])
        for email, c in contacts_by_email(api).items()
    }


def summary(view: dict[str, Any]) -> tuple[Any, ...]:
    counters = tuple(view[name] for name in ("status", "totalRows", "processedRows", "created", "updated"))
    counters += (view["skipped"], view["failed"], view["errorCount"])
    return counters, [(e["row"], e["result"], e["reason"]) for e in view["errors"]]


def kill_points() -> dict[str, Any]:
    return {
        # In the middle of a step's writes: rows 21-38 are written (one transaction), 39-40
        # (the next one) are not.
        "mid-write": lambda: killed_at(connection().client, "TransactWriteItems", "person39@"),
        # Every row of the second step written, its checkpoint not.
        "checkpoint": lambda: killed_at(connection().client, "UpdateItem", "processedRows", nth=2),
        # The checkpoint written, the message of the next step not sent.
        "next-step": lambda: killed_at(queues._client(), "SendMessageBatch", '\\"step\\":3'),
    }


def test_a_killed_import_ends_as_an_uninterrupted_one(new_workspace, pump) -> None:
    clean = new_workspace(name="Clean")
    view, calls = run(clean, pump)
    assert all(call.ok for call in calls)
    assert (view["status"], view["created"], view["updated"], view["failed"]) == ("COMPLETED", 48, 1, 1)
    expected = summary(view), comparable(clean)
    assert expected[1]["person5@example.com"] == ("First5", "Last5", "Late Company", ("t2", "late"), "ACTIVE")

    for name, kill in kill_points().items():
        api = new_workspace(name=name)
        with kill() as state:
            view, calls = run(api, pump)
        assert state["killed"] == 1, name
        assert sum(1 for call in calls if not call.ok) == 1, name  # delivered again, then fine
        assert (summary(view), comparable(api)) == expected, name


def test_duplicate_and_late_messages_change_nothing(api, pump) -> None:
    view, _ = run(api, pump)
    assert view["status"] == "COMPLETED"
    before = summary(view), comparable(api)
    workspace_id = api.get("/api/v1/workspace").json["id"]
    # Every step's message again, and the upload's notification again.
    steps = [
        {"kind": import_steps.STEP_KIND, "workspaceId": workspace_id, "importId": view["id"], "step": step}
        for step in range(8)
    ]
    queues.send(config.imports_queue_url(), steps)
    import_start.on_object_created(f"uploads/{workspace_id}/{view['id']}.csv", "etag", 10)
    calls = pump.drain()
    assert calls and all(call.ok for call in calls)
    after = api.get(f"/api/v1/imports/{view['id']}").json
    assert (summary(after), comparable(api)) == before
