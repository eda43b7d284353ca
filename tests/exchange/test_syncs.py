"""Database sync definitions through the API (no database needed): what is refused with a
422 and nothing written, where the password goes (Secrets Manager, never the table or an
answer), one run at a time, and the schedule starting due syncs without a Scan."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.exchange import sync_schedule, syncs
from chalicelib.models.syncs import Sync
from chalicelib.platform import config
from chalicelib.platform.errors import Conflict
from tests.support.api import Api

PASSWORD = "s3cret-Pässword-never-shown"


def body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "CRM",
        "engine": "postgresql",
        "connection": {
            "host": "127.0.0.1",
            "port": 1,
            "database": "crm",
            "user": "reader",
            "password": PASSWORD,
        },
        "query": "SELECT email, phone FROM customers",
        "mapping": {"email": "email", "phone": "phone"},
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"engine": "mssql"}, "engine"),
        ({"query": "DELETE FROM customers"}, "query"),
        ({"query": "SELECT email FROM customers; DROP TABLE customers"}, "query"),
        ({"query": "SELECT email INTO backup FROM customers"}, "query"),
        ({"query": "SELECT email FROM customers -- hidden\n; DELETE FROM customers"}, "query"),
        ({"query": "SELECT email FROM customers /* ; */ ; UPDATE customers SET email = NULL"}, "query"),
        ({"engine": "mysql", "query": "SELECT email FROM customers /*! ; DELETE FROM customers */"}, "query"),
        ({"mapping": {"email": "email", "score": "customFields.score"}}, "mapping.score"),
        ({"mapping": {"email": "favouriteColour"}}, "mapping.email"),
        ({"mapping": {"first_name": "firstName"}}, "mapping"),
    ],
)
def test_a_bad_definition_is_refused_and_nothing_is_written(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    reply = api.post("/api/v1/syncs", body(**changes))

    assert reply.status == 422, reply.json
    assert reply.error_code == "validation_error"
    assert any(detail.get("field", "").startswith(field) for detail in reply.json["error"]["details"]), (
        reply.json
    )
    assert api.get("/api/v1/syncs").json["items"] == []
    secrets = boto3.client("secretsmanager").list_secrets()["SecretList"]
    assert secrets == []


def test_the_password_is_a_secret_never_in_the_table_or_an_answer(api: Api) -> None:
    created = api.post("/api/v1/syncs", body())
    sync_id = created.json["id"]

    answers = [
        created.json,
        api.get(f"/api/v1/syncs/{sync_id}").json,
        api.get("/api/v1/syncs").json,
        api.patch(f"/api/v1/syncs/{sync_id}", {"name": "CRM 2"}).json,
    ]

    assert created.status == 201 and created.json["connection"]["passwordSet"] is True
    assert all(PASSWORD not in str(answer) for answer in answers)
    raw = boto3.client("dynamodb").get_item(TableName=config.table_name(), Key=_key(api, sync_id))["Item"]
    assert PASSWORD not in str(raw)
    item = Sync.get(*Sync.key(_workspace(api, sync_id), sync_id))
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=item.secretName)
    assert stored["SecretString"] == PASSWORD


def test_a_new_password_replaces_the_secret_and_delete_removes_it(api: Api) -> None:
    sync_id = api.post("/api/v1/syncs", body()).json["id"]
    item = Sync.get(*Sync.key(_workspace(api, sync_id), sync_id))

    patched = api.patch(f"/api/v1/syncs/{sync_id}", {"connection": {"password": "another-one-42"}})
    value = boto3.client("secretsmanager").get_secret_value(SecretId=item.secretName)["SecretString"]
    deleted = api.delete(f"/api/v1/syncs/{sync_id}")

    assert patched.status == 200 and "another-one-42" not in str(patched.json)
    assert value == "another-one-42"
    assert deleted.status == 204
    assert api.get(f"/api/v1/syncs/{sync_id}").status == 404
    assert boto3.client("secretsmanager").list_secrets()["SecretList"] == []


@pytest.mark.parametrize(
    "moved",
    [{"connection": {"host": "collector.example.net"}}, {"connection": {"port": 5433}}, {"engine": "mysql"}],
)
def test_pointing_a_sync_at_another_server_needs_the_password_again(api: Api, moved: dict[str, Any]) -> None:
    # Given a sync whose password only Secrets Manager holds
    sync_id = api.post("/api/v1/syncs", body()).json["id"]
    before = api.get(f"/api/v1/syncs/{sync_id}").json

    # When a PATCH points it at another server without the password, then with it
    refused = api.patch(f"/api/v1/syncs/{sync_id}", moved)
    unchanged = api.get(f"/api/v1/syncs/{sync_id}").json
    with_password = {**moved, "connection": {**moved.get("connection", {}), "password": "for-the-new-one"}}
    accepted = api.patch(f"/api/v1/syncs/{sync_id}", with_password)

    # Then the first is a 422 naming the password and changes nothing (the stored password is
    # never sent to a server it was not given for); the second is taken
    assert refused.status == 422, refused.json
    assert refused.json["error"]["details"][0]["field"] == "connection.password"
    assert unchanged == before
    assert accepted.status == 200, accepted.json


def test_a_patch_with_a_bad_query_changes_nothing(api: Api) -> None:
    sync_id = api.post("/api/v1/syncs", body()).json["id"]

    reply = api.patch(f"/api/v1/syncs/{sync_id}", {"query": "SELECT 1; SELECT 2", "name": "renamed"})

    assert reply.status == 422
    assert api.get(f"/api/v1/syncs/{sync_id}").json["name"] == "CRM"


@pytest.mark.parametrize("field", ["connection", "name", "query", "mapping", "schedule", "updateExisting"])
def test_a_null_for_what_a_sync_cannot_lack_is_refused_not_ignored(api: Api, field: str) -> None:
    sync_id = api.post("/api/v1/syncs", body()).json["id"]
    before = api.get(f"/api/v1/syncs/{sync_id}").json

    reply = api.patch(f"/api/v1/syncs/{sync_id}", {"name": "renamed", field: None})

    assert reply.status == 422, reply.json
    assert [d["field"] for d in reply.json["error"]["details"]] == [field]
    assert "cannot be null" in reply.json["error"]["message"]
    assert api.get(f"/api/v1/syncs/{sync_id}").json == before


def test_a_null_cursor_column_or_group_removes_it(api: Api) -> None:
    sync_id = api.post("/api/v1/syncs", body()).json["id"]
    api.patch(f"/api/v1/syncs/{sync_id}", {"cursorColumn": "updated_at"})

    cleared = api.patch(f"/api/v1/syncs/{sync_id}", {"cursorColumn": None})

    assert cleared.status == 200, cleared.json
    assert cleared.json.get("cursorColumn") is None


def test_a_second_run_while_one_is_in_progress_is_refused(api: Api) -> None:
    sync_id = api.post("/api/v1/syncs", body()).json["id"]

    first = api.post(f"/api/v1/syncs/{sync_id}/run")
    second = api.post(f"/api/v1/syncs/{sync_id}/run")

    assert first.status == 202 and second.status == 409
    assert len(api.get(f"/api/v1/syncs/{sync_id}/runs").json["items"]) == 1


def test_two_starts_from_the_same_reading_start_one_run(api: Api) -> None:
    # Given two starts that both read the sync with no run in progress
    sync_id = api.post("/api/v1/syncs", body()).json["id"]
    ws = _workspace(api, sync_id)
    seen_by_a, seen_by_b = syncs.get(ws, sync_id), syncs.get(ws, sync_id)

    # When both claim the run, the second is refused (the claim's condition)
    syncs._claim_run(seen_by_a, "01JRUNAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(Conflict):
        syncs._claim_run(seen_by_b, "01JRUNBBBBBBBBBBBBBBBBBBBB")


def test_the_schedule_starts_a_due_sync_once(api: Api, pump: Any, fake_clock: Any) -> None:
    # Given an hourly sync and a manual one
    hourly = api.post("/api/v1/syncs", body(schedule="hourly")).json
    manual = api.post("/api/v1/syncs", body(schedule="manual")).json
    assert hourly["nextRunAt"] is not None and manual["nextRunAt"] is None

    # When the schedule fires before the hour, then after it, twice
    pump.invoke_schedule("due_syncs")
    early = api.get(f"/api/v1/syncs/{hourly['id']}/runs").json["items"]
    fake_clock.advance(3601)
    pump.invoke_schedule("due_syncs")
    pump.invoke_schedule("due_syncs")

    # Then one run started, for the hourly sync only, and its next run is an hour on
    assert early == []
    assert len(api.get(f"/api/v1/syncs/{hourly['id']}/runs").json["items"]) == 1
    assert api.get(f"/api/v1/syncs/{manual['id']}/runs").json["items"] == []
    assert api.get(f"/api/v1/syncs/{hourly['id']}").json["nextRunAt"] > hourly["nextRunAt"]


def test_two_schedulers_reading_the_same_due_sync_advance_it_once(api: Api, fake_clock: Any) -> None:
    sync_id = api.post("/api/v1/syncs", body(schedule="daily")).json["id"]
    ws = _workspace(api, sync_id)
    seen_by_a, seen_by_b = syncs.get(ws, sync_id), syncs.get(ws, sync_id)

    assert sync_schedule._advance(seen_by_a) is True
    assert sync_schedule._advance(seen_by_b) is False


def _workspace(api: Api, sync_id: str) -> str:
    del sync_id
    return str(api.get("/api/v1/workspace").json["id"])


def _key(api: Api, sync_id: str) -> dict[str, Any]:
    pk, sk = Sync.key(_workspace(api, sync_id), sync_id)
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def test_changing_the_schedule_moves_the_sync_in_and_out_of_the_due_index(api: Api) -> None:
    sync_id = api.post("/api/v1/syncs", body()).json["id"]

    daily = api.patch(f"/api/v1/syncs/{sync_id}", {"schedule": "daily"}).json
    in_index = [s.id for s in Sync.gsi1.query(sync_schedule.DUE_PARTITION)]
    manual = api.patch(f"/api/v1/syncs/{sync_id}", {"schedule": "manual"}).json
    after = [s.id for s in Sync.gsi1.query(sync_schedule.DUE_PARTITION)]

    assert daily["nextRunAt"] is not None and in_index == [sync_id]
    assert manual["nextRunAt"] is None and after == []
