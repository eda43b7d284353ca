"""The `cohort` command line, run by typer's CliRunner against the Chalice app in-process: the
CLI's transport is handed the test client (API calls) and `requests` (presigned S3 URLs,
answered by moto), and each status read first runs the queue as the deployed Lambdas would
meanwhile. No network, no patching."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests as http
from typer.testing import CliRunner

from cohort_cli.main import app
from cohort_cli.transport import Reply
from tests.support.imports import CORPUS, contacts_by_email

BASE = "https://cohort.test/api"


class AppTransport:
    def __init__(self, client: Any, events: Any) -> None:
        self.client = client
        self.pump = events
        self.sent: list[tuple[str, str]] = []

    def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | Iterable[bytes] | None = None
    ) -> Reply:
        data = body if body is None or isinstance(body, bytes) else b"".join(body)
        self.sent.append((method, url))
        if not url.startswith(BASE):
            answer = http.request(method, url, data=data, headers=dict(headers), timeout=10)
            return Reply(answer.status_code, answer.content, dict(answer.headers))
        parts = urlsplit(url)
        path = parts.path[len(urlsplit(BASE).path) :] + (f"?{parts.query}" if parts.query else "")
        if method == "GET" and path.startswith(("/api/v1/imports/", "/api/v1/exports/")):
            assert all(call.ok for call in self.pump.drain())
        response = self.client.http.request(method, path, headers=dict(headers), body=data)
        return Reply(response.status_code, response.body or b"", dict(response.headers))


@pytest.fixture
def cohort(client, api, pump, monkeypatch, tmp_path):
    """Run `cohort ARGS` against the workspace of `api`; returns typer's Result."""
    monkeypatch.setenv("COHORT_URL", BASE)
    monkeypatch.setenv("COHORT_API_KEY", api.key)
    monkeypatch.setenv("COHORT_CONFIG", str(tmp_path / "absent.toml"))
    transport = AppTransport(client, pump)

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["--poll-seconds", "0", *args], obj=transport, catch_exceptions=False)

    run.transport = transport  # type: ignore[attr-defined]
    return run


def test_import_a_file_into_a_new_group_with_progress_and_report(cohort, api, tmp_path) -> None:
    report = tmp_path / "errors.csv"
    result = cohort(
        "import",
        str(CORPUS / "troubles.csv"),
        "--group",
        "Salon 2026",
        "--tag",
        "salon",
        "--errors",
        str(report),
    )
    assert result.exit_code == 0, result.output
    assert "created the group Salon 2026" in result.stderr
    assert "COMPLETED" in result.stdout and "duplicate of row 1" in result.stdout
    contacts = contacts_by_email(api)
    assert contacts["ok.one@example.com"]["tags"] == ["salon"]
    [group] = api.get("/api/v1/groups").json["items"]
    assert (group["name"], group["memberCount"]) == ("Salon 2026", 5)
    rows = list(csv.DictReader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    assert [row["row"] for row in rows] == ["2", "3", "4", "8"]
    # The file went to the presigned URL, not through the API.
    assert any(method == "PUT" and not url.startswith(BASE) for method, url in cohort.transport.sent)


def test_import_into_an_existing_group_by_name_with_a_mapping(cohort, api) -> None:
    # GIVEN
    group = api.post("/api/v1/groups", {"name": "Clients"}).json["id"]
    # WHEN
    result = cohort("import", str(CORPUS / "tab_delimited.csv"), "-g", "clients", "--map", "POSTE=ignore")
    # THEN
    assert result.exit_code == 0, result.output
    members = api.get(f"/api/v1/groups/{group}/members").json["items"]
    assert sorted(m["email"] for m in members) == ["hugo.roux@example.com", "lea.petit@example.com"]
    assert contacts_by_email(api)["lea.petit@example.com"]["title"] is None
    assert "columns ignored: POSTE" in result.stderr


def test_a_failed_import_exits_1_with_the_reason(cohort) -> None:
    result = cohort("import", str(CORPUS / "unclosed_quote.csv"))
    assert result.exit_code == 1
    assert "never closed" in result.stderr


def test_export_to_a_file_and_to_stdout(cohort, api, tmp_path) -> None:
    api.post(
        "/api/v1/contacts",
        {"email": "ann@example.com", "firstName": "Ann", "company": "ACME\r\nParis", "tags": ["vip"]},
    )
    api.post("/api/v1/contacts", {"email": "bob@example.com", "firstName": "=cmd"})
    out = tmp_path / "vip.csv"
    result = cohort("export", "--tag", "vip", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 1 contacts" in result.stderr
    assert [row["email"] for row in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig")))] == [
        "ann@example.com"
    ]
    piped = cohort("export")
    assert piped.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(piped.stdout_bytes.decode("utf-8-sig"))))
    assert sorted(row["email"] for row in rows) == ["ann@example.com", "bob@example.com"]
    assert {row["firstName"] for row in rows} == {"Ann", "'=cmd"}


def test_contacts_list_as_table_and_json(cohort, api) -> None:
    api.post("/api/v1/contacts", {"email": "elodie@example.com", "firstName": "Élodie", "company": "Crème"})
    api.post("/api/v1/contacts", {"email": "zed@example.com"})
    table = cohort("contacts", "list", "--q", "elo")
    assert table.exit_code == 0, table.output
    assert "elodie@example.com" in table.stdout and "Crème" in table.stdout and "zed@" not in table.stdout
    lines = cohort("contacts", "list", "--json", "--limit", "1").stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["email"] in ("elodie@example.com", "zed@example.com")


def test_settings_come_from_the_config_file_and_a_missing_one_is_explained(
    client,
    api,
    pump,
    tmp_path,
    monkeypatch,
) -> None:
    monkeypatch.delenv("COHORT_URL", raising=False)
    monkeypatch.delenv("COHORT_API_KEY", raising=False)
    config = tmp_path / "config.toml"
    monkeypatch.setenv("COHORT_CONFIG", str(config))
    runner = CliRunner()
    missing = runner.invoke(app, ["contacts", "list"], obj=AppTransport(client, pump))
    assert missing.exit_code == 2
    unwrapped = missing.stderr.replace("\n", "")  # rich folds long lines to the console width
    assert "COHORT_URL" in unwrapped and str(config) in unwrapped
    config.write_text(f'url = "{BASE}"\napi_key = "{api.key}"\n')
    api.post("/api/v1/contacts", {"email": "from.file@example.com"})
    found = runner.invoke(app, ["contacts", "list"], obj=AppTransport(client, pump))
    assert found.exit_code == 0 and "from.file@example.com" in found.stdout
    wrong = runner.invoke(app, ["--api-key", "ck_wrong", "contacts", "list"], obj=AppTransport(client, pump))
    assert wrong.exit_code == 1 and "unauthorized" in wrong.stderr


def test_the_repo_setup_installs_the_cohort_command() -> None:
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("cohort") == "cohort_cli.main:app"
    assert (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text().count(
        "cohort_cli.main:app"
    ) == 1
