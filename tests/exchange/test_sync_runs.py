"""Database sync runs against real servers (tests/support/databases.py: PostgreSQL and
MariaDB from Debian's packages, started for the session): a full run's report is the CSV
import's report of the same rows; incremental runs read only what changed; a run killed
halfway ends as an uninterrupted one; a wrong host, a wrong password, a missing column and
a timeout are clear errors with nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.exchange import import_rows, sync_sources, sync_steps
from tests.support.api import Api
from tests.support.databases import Server, as_csv, free_port, people
from tests.support.imports import contacts_by_email, import_body

# Every kind of awkward row comes back within 400 (bad phones every 7th, phone-only every 50th,
# a duplicate every 97th); more rows only cost CI time (bench/sync.py runs thousands).
ROWS = 400
MAPPING = {
    "email": "email",
    "phone": "phone",
    "first_name": "firstName",
    "last_name": "lastName",
    "company": "company",
}
COUNTS = ("processedRows", "created", "updated", "skipped", "failed", "warnings", "errorCount")


@pytest.fixture(params=["postgresql", "mysql"])
def database(request: pytest.FixtureRequest) -> Server:
    name = "postgres_server" if request.param == "postgresql" else "mariadb_server"
    found: Server = request.getfixturevalue(name)
    return found


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_steps, "PAGE_ROWS", 250)  # several pages per run


def create_sync(api: Api, database: Server, table: str, **changes: Any) -> dict[str, Any]:
    body = {
        "name": f"{table} of {database.engine}",
        "engine": database.engine,
        "connection": database.connection(),
        "query": f"SELECT * FROM {table}",
        "mapping": MAPPING,
        "updateExisting": True,
        **changes,
    }
    created = api.post("/api/v1/syncs", body)
    assert created.status == 201, created.json
    return dict(created.json)


def run(api: Api, pump: Any, sync_id: str) -> dict[str, Any]:
    started = api.post(f"/api/v1/syncs/{sync_id}/run")
    assert started.status == 202, started.json
    calls = pump.drain()
    assert all(call.ok for call in calls), [call.error for call in calls if not call.ok]
    runs = api.get(f"/api/v1/syncs/{sync_id}/runs").json["items"]
    latest = next(r for r in runs if r["id"] == started.json["runId"])
    return dict(latest)


def test_a_full_run_reports_what_a_csv_import_of_the_same_rows_reports(
    database: Server, new_workspace: Any, pump: Any
) -> None:
    # Given a table of awkward rows, and a workspace that imports the same rows as a CSV file
    table = database.people_table(ROWS)
    by_sync, by_csv = new_workspace(), new_workspace()
    sync = create_sync(by_sync, database, table, cursorColumn="updated_at")
    csv_view = import_body(
        by_csv, pump, as_csv(people(ROWS)), mapping='{"id": "ignore", "updated_at": "ignore", '
        '"email": "email", "phone": "phone", "first_name": "firstName", "last_name": "lastName", '
        '"company": "company"}', updateExisting="true"
    )  # fmt: skip

    # When the sync runs
    view = run(by_sync, pump, sync["id"])

    # Then its counts are the import's, every kind of row is there, and the contacts match
    assert view["status"] == "COMPLETED", view
    assert {k: view[k] for k in COUNTS} == {k: csv_view[k] for k in COUNTS}
    assert view["processedRows"] == ROWS
    assert view["created"] > 350 and view["updated"] > 0 and view["failed"] > 0 and view["warnings"] > 0
    assert view["cursorHigh"] == "2026-11-01 15:40:00"  # the last row's updated_at
    synced, imported = contacts_by_email(by_sync), contacts_by_email(by_csv)
    assert synced.keys() == imported.keys()
    assert synced["person1@example.com"]["firstName"] == "Zoë"
    assert synced["person3@example.com"]["company"] is None
    report = by_sync.get(f"/api/v1/syncs/{sync['id']}/runs/{view['id']}/errors.csv")
    assert report.status == 200
    assert "not a phone" in report.text and "warning" in report.text
    assert by_sync.get(f"/api/v1/syncs/{sync['id']}").json["lastCursor"] == view["cursorHigh"]


def test_incremental_runs_read_only_rows_above_the_last_cursor(database: Server, api: Api, pump: Any) -> None:
    # Given a sync with a cursor column that has run once
    table = database.people_table(300)
    sync = create_sync(api, database, table, cursorColumn="updated_at")
    first = run(api, pump, sync["id"])
    assert first["processedRows"] == 300

    # When two rows change, three are added, then the sync runs again
    database.admin(f"UPDATE {table} SET company = 'Nouvelle Société', updated_at = '2026-12-01 10:00:00' "
                 "WHERE id IN (1, 2)", None)  # fmt: skip
    database.insert(table, people(3, start=301))
    second = run(api, pump, sync["id"])

    # Then only those five are read: two updated, three created
    assert (second["processedRows"], second["created"], second["updated"]) == (5, 3, 2)
    assert second["cursorFrom"] == first["cursorHigh"]
    assert contacts_by_email(api)["person2@example.com"]["company"] == "Nouvelle Société"
    # And a third run with nothing new reads nothing
    third = run(api, pump, sync["id"])
    assert (third["status"], third["processedRows"]) == ("COMPLETED", 0)


def test_a_run_killed_halfway_resumes_with_the_same_result(
    database: Server, new_workspace: Any, pump: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the same table synced into two workspaces, in pages of 100 rows
    monkeypatch.setattr(sync_steps, "PAGE_ROWS", 100)
    table = database.people_table(300)
    clean, killed = new_workspace(), new_workspace()
    clean_sync, killed_sync = create_sync(clean, database, table), create_sync(killed, database, table)
    expected = run(clean, pump, clean_sync["id"])

    # When the second page's handler dies once after its rows were written, before its checkpoint
    real, calls = import_rows.apply_rows, {"n": 0}

    def dies_once(*args: Any, **kwargs: Any) -> Any:
        results = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the Lambda was killed")
        return results

    monkeypatch.setattr(import_rows, "apply_rows", dies_once)
    started = killed.post(f"/api/v1/syncs/{killed_sync['id']}/run")
    invocations = pump.drain()

    # Then SQS delivered the page again and the run ends as the uninterrupted one
    assert any(not call.ok for call in invocations)
    view = killed.get(f"/api/v1/syncs/{killed_sync['id']}/runs").json["items"][0]
    assert view["id"] == started.json["runId"]
    assert {k: view[k] for k in COUNTS} == {k: expected[k] for k in COUNTS}
    assert contacts_by_email(killed).keys() == contacts_by_email(clean).keys()


def test_a_wrong_password_is_a_clear_error_on_test_and_on_the_run(
    database: Server, api: Api, pump: Any
) -> None:
    table = database.people_table(10)
    sync = create_sync(api, database, table, connection=database.connection(password="wrong-Secret-123"))

    tested = api.post(f"/api/v1/syncs/{sync['id']}/test")
    view = run(api, pump, sync["id"])

    assert tested.status == 200 and tested.json["ok"] is False
    assert "could not connect" in tested.json["error"] and "wrong-Secret-123" not in tested.json["error"]
    assert view["status"] == "FAILED" and "could not connect" in view["failureReason"]
    assert view["processedRows"] == 0 and contacts_by_email(api) == {}
    assert "wrong-Secret-123" not in str(api.get(f"/api/v1/syncs/{sync['id']}").json)


def test_a_wrong_host_is_a_clear_error(database: Server, api: Api, pump: Any) -> None:
    sync = create_sync(api, database, "nowhere", connection=database.connection(port=free_port()))

    tested = api.post(f"/api/v1/syncs/{sync['id']}/test").json
    view = run(api, pump, sync["id"])

    assert tested["ok"] is False and "could not connect to 127.0.0.1" in tested["error"]
    assert view["status"] == "FAILED" and "could not connect to 127.0.0.1" in view["failureReason"]


def test_a_mapped_column_the_query_lacks_fails_before_any_row(database: Server, api: Api, pump: Any) -> None:
    table = database.people_table(10)
    sync = create_sync(api, database, table, query=f"SELECT id, phone FROM {table}")

    tested = api.post(f"/api/v1/syncs/{sync['id']}/test").json
    view = run(api, pump, sync["id"])

    assert tested["ok"] is False and tested["columns"] == ["id", "phone"] and len(tested["sample"]) == 5
    assert "no column 'email'" in tested["error"]
    assert view["status"] == "FAILED" and "no column 'email'" in view["failureReason"]
    assert contacts_by_email(api) == {}


def test_a_query_slower_than_the_timeout_fails_with_a_clear_error(
    database: Server, api: Api, pump: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a statement timeout of 1 s and a query that sleeps 3 s
    monkeypatch.setattr(sync_sources, "STATEMENT_SECONDS", 1)
    # pg_sleep returns void, which cannot be sorted (every column is an ORDER BY key): a subquery.
    sleep = "(SELECT 1 FROM pg_sleep(3))" if database.engine == "postgresql" else "SLEEP(3)"
    table = database.people_table(5)
    sync = create_sync(api, database, table, query=f"SELECT t.*, {sleep} AS pause FROM {table} t")

    tested = api.post(f"/api/v1/syncs/{sync['id']}/test").json
    view = run(api, pump, sync["id"])

    assert tested["ok"] is False and "statement timeout" in tested["error"], tested
    assert view["status"] == "FAILED" and "statement timeout" in view["failureReason"], view
    assert contacts_by_email(api) == {}
