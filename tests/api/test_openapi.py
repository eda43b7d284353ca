"""The OpenAPI document describes every route and is a valid OpenAPI 3 document."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.support.api import Api


def test_openapi_document_is_valid_and_lists_the_routes(client) -> None:
    from app import app

    reply = Api(client).get("/api/v1/openapi.json")
    assert reply.status == 200
    document = reply.json
    validate(document)
    described = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    routed = {(path, method) for path, methods in app.routes.items() for method in methods}
    assert routed == described


def test_every_write_declares_the_errors_any_write_can_get(client) -> None:
    # A client generated from the document must know the conventions' errors of a write:
    # 403 (a read key), 409 (an Idempotency-Key reused with another body, a rule group's
    # members, a sync run in progress, a merge of groups of two types...) and 413 for a body.
    document = Api(client).get("/api/v1/openapi.json").json
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "get" or "security" not in operation:
                continue
            wanted = {"403", "409"} | ({"413"} if "requestBody" in operation else set())
            missing += [(method, path, status) for status in sorted(wanted - set(operation["responses"]))]
    assert missing == []
    merge = document["paths"]["/api/v1/groups/{groupId}/merge"]["post"]["responses"]["409"]
    assert merge["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


def test_the_document_declares_the_answers_the_api_really_gives(client) -> None:
    # Found by schemathesis against the running stack: answers a generated client did not expect.
    paths = Api(client).get("/api/v1/openapi.json").json["paths"]
    # A report asked for before its import, job or run has finished: 409 (docs/api.md).
    for path in (
        "/api/v1/imports/{id}/errors.csv",
        "/api/v1/jobs/{jobId}/errors.csv",
        "/api/v1/syncs/{id}/runs/{runId}/errors.csv",
    ):
        assert "409" in paths[path]["get"]["responses"], path
    # Creating a workspace without the admin token: 401, though it needs no API key.
    assert "401" in paths["/api/v1/workspaces"]["post"]["responses"]
    # The public pages a browser opens answer their errors as pages (a 404 page, the form
    # again with its errors); the form's JSON post still gets the JSON error.
    for path, method in (
        ("/f/{formId}", "get"),
        ("/f/{formId}", "post"),
        ("/c/{token}", "get"),
        ("/c/{token}", "post"),
        ("/u/{token}", "get"),
        ("/u/{token}", "post"),
    ):
        assert "text/html" in paths[path][method]["responses"]["404"]["content"], (method, path)
    assert "application/json" in paths["/f/{formId}"]["post"]["responses"]["422"]["content"]
    # A form post answers 200 (JSON: an update; a browser: the thank-you page) or 303 (a
    # browser, to the form's redirectUrl) beside the JSON post's 201.
    posted = paths["/f/{formId}"]["post"]["responses"]
    assert set(posted["200"]["content"]) == {"application/json", "text/html"}
    assert "303" in posted
    assert "text/html" not in paths["/api/v1/contacts"]["post"]["responses"]["422"]["content"]


def test_the_routes_that_can_pass_the_plan_declare_402(client) -> None:
    # The contact-creating routes answer 402 `plan_limit_reached` past a FREE plan's contacts
    # (tests/contacts/test_contacts.py, test_archive.py, tests/forms/test_forms.py); a client
    # generated from the document must expect it there, and nowhere else.
    paths = Api(client).get("/api/v1/openapi.json").json["paths"]
    declaring = {
        (method, path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "402" in operation["responses"]
    }
    assert declaring == {
        ("post", "/api/v1/contacts"),
        ("post", "/api/v1/contacts/sync"),
        ("post", "/api/v1/contacts/{id}/unarchive"),
        ("post", "/f/{formId}"),
    }
    error = paths["/api/v1/contacts"]["post"]["responses"]["402"]
    assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
