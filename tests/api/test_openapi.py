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
