"""Workspaces, keys, and the API conventions every route shares."""

from __future__ import annotations

from tests.conftest import ADMIN_TOKEN
from tests.support.api import Api


def test_health_answers_without_a_key(client) -> None:
    reply = Api(client).get("/api/v1/health")
    assert reply.status == 200
    assert reply.json == {"status": "ok"}


def test_a_new_workspace_key_reads_its_workspace(client) -> None:
    created = Api(client).post(
        "/api/v1/workspaces", {"name": "Acme", "plan": "FREE"}, headers={"X-Admin-Token": ADMIN_TOKEN}
    )
    assert created.status == 201
    assert created.json["apiKey"].startswith("ck_")
    workspace = Api(client, created.json["apiKey"]).get("/api/v1/workspace")
    assert workspace.status == 200
    assert workspace.json["id"] == created.json["id"]
    assert workspace.json["plan"] == "FREE"
    assert workspace.json["contactLimit"] == 300
    assert workspace.json["contactCount"] == 0


def test_paid_plans_have_no_contact_limit(new_workspace) -> None:
    assert new_workspace("STARTER").get("/api/v1/workspace").json["contactLimit"] is None


def test_only_the_key_hash_is_stored(client, aws) -> None:
    import boto3

    # GIVEN
    created = Api(client).post("/api/v1/workspaces", {"name": "Acme"}, headers={"X-Admin-Token": ADMIN_TOKEN})
    # WHEN
    dump = str(boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"])
    # THEN
    assert created.json["apiKey"] not in dump


def test_missing_or_wrong_key_is_401_json(client) -> None:
    for headers in ({}, {"Authorization": "Bearer ck_nope"}, {"Authorization": "Basic abc"}):
        reply = Api(client).get("/api/v1/workspace", headers=headers)
        assert reply.status == 401
        assert reply.error_code == "unauthorized"
        assert reply.json["error"]["message"]


def test_creating_a_workspace_needs_the_admin_token(client) -> None:
    # GIVEN
    missing = Api(client).post("/api/v1/workspaces", {"name": "Acme"})
    # WHEN
    wrong = Api(client).post("/api/v1/workspaces", {"name": "Acme"}, headers={"X-Admin-Token": "guess"})
    # THEN
    assert (missing.status, missing.error_code) == (401, "unauthorized")
    assert (wrong.status, wrong.error_code) == (403, "forbidden")


def test_bad_json_is_400_invalid_request(client) -> None:
    headers = {"X-Admin-Token": ADMIN_TOKEN}
    for raw in ("{not json", "[1, 2]", ""):
        reply = Api(client).post("/api/v1/workspaces", raw=raw, headers=headers)
        assert reply.status == 400, raw
        assert reply.error_code == "invalid_request"


def test_wrong_content_type_is_400_invalid_request(client) -> None:
    reply = Api(client).post(
        "/api/v1/workspaces",
        raw="name=x",
        headers={"X-Admin-Token": ADMIN_TOKEN, "Content-Type": "text/plain"},
    )
    assert reply.status == 400
    assert reply.error_code == "invalid_request"


def test_invalid_fields_are_422_with_details(client) -> None:
    reply = Api(client).post(
        "/api/v1/workspaces",
        {"name": "", "plan": "GOLD", "extra": 1},
        headers={"X-Admin-Token": ADMIN_TOKEN},
    )
    assert reply.status == 422
    assert reply.error_code == "validation_error"
    fields = {d["field"] for d in reply.json["error"]["details"]}
    assert {"name", "plan", "extra"} <= fields


def test_an_idempotency_key_creates_one_workspace(client) -> None:
    """The API key is shown once and never stored: a replay names the first workspace."""
    headers = {"X-Admin-Token": ADMIN_TOKEN, "Idempotency-Key": "onboarding-42"}
    body = {"name": "Acme", "plan": "PRO"}
    first = Api(client).post("/api/v1/workspaces", body, headers=headers)
    assert first.status == 201
    again = Api(client).post("/api/v1/workspaces", body, headers=headers)
    assert (again.status, again.error_code) == (409, "conflict")
    assert again.json["error"]["details"][0]["existingWorkspaceId"] == first.json["id"]
    other = Api(client).post("/api/v1/workspaces", {**body, "name": "Other"}, headers=headers)
    assert (other.status, other.json["error"]["details"][0]["message"]) == (
        409,
        "reused with a different body",
    )
    assert Api(client, first.json["apiKey"]).get("/api/v1/workspace").json["name"] == "Acme"
    fresh = Api(client).post("/api/v1/workspaces", body, headers={"X-Admin-Token": ADMIN_TOKEN})
    assert fresh.status == 201 and fresh.json["id"] != first.json["id"]  # no key: a new one
