"""The OpenAPI 3.1 document, built from the routes registered through chalicelib.api.http.route."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.http import JSON, ROUTES, RouteDoc, resolve_model
from chalicelib.schemas.common import ErrorBody

_ERROR_STATUSES = {
    "400": "invalid_request",
    "401": "unauthorized",
    "404": "not_found",
    "422": "validation_error",
}
# Any authenticated write can also get these (API.md "Conventions"): a read key's 403, a 409 (an
# Idempotency-Key reused with another body, a rule group's members, a run in progress...), and
# a body over the limit.
_WRITE_STATUSES = {"403": "forbidden", "409": "conflict"}
_BODY_STATUSES = {"413": "payload_too_large"}
# A route that can add a contact to the workspace's count names it (errors=(402,)).
_CODES = {**_ERROR_STATUSES, **_WRITE_STATUSES, **_BODY_STATUSES, "402": "plan_limit_reached"}
# A page a browser opens (or posts, form-encoded) answers its errors as a page, not as JSON.
_HTML = "text/html"
_FORM_ENCODED = "application/x-www-form-urlencoded"


def document() -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorBody}
    for doc in ROUTES.values():
        models.update(resolve_model(m) for m in (doc.body, doc.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    refs, schema = models_json_schema(
        [(model, "validation") for model in ordered],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for doc in sorted(ROUTES.values(), key=lambda d: (d.path, d.method)):
        paths.setdefault(doc.path, {})[doc.method.lower()] = _operation(doc, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Cohort API", "version": "1.0.0"},
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }


def _operation(doc: RouteDoc, refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": doc.summary,
        "tags": [doc.tag],
        "operationId": f"{doc.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', doc.path).strip('_')}",
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", doc.path)
        ]
        + _query_parameters(doc),
        "responses": {str(doc.status): _response(doc, refs)},
    }
    for extra in doc.also:
        if 300 <= extra < 400:
            operation["responses"][str(extra)] = {"description": "redirect"}
            continue
        operation["responses"][str(extra)] = answer = _response(doc, refs)
        if _FORM_ENCODED in doc.content_types:  # a browser's post gets a page
            answer["content"][_HTML] = {"schema": {"type": "string"}}
    if not doc.public:
        operation["security"] = [{"apiKey": []}]
    if doc.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                ct: {"schema": refs[(resolve_model(doc.body), "validation")]} for ct in doc.content_types
            },
        }
    error_ref = refs[(ErrorBody, "validation")]
    statuses = dict(_ERROR_STATUSES)
    if not doc.public and doc.method != "GET":
        statuses.update(_WRITE_STATUSES)
    if doc.body is not None:
        statuses.update(_BODY_STATUSES)
    if doc.public:
        del statuses["401"]
    statuses.update({str(status): _CODES[str(status)] for status in doc.errors})
    content: dict[str, Any] = {JSON: {"schema": error_ref}}
    if doc.response_content_type == _HTML or _FORM_ENCODED in doc.content_types:
        content[_HTML] = {"schema": {"type": "string"}}
    for status, code in sorted(statuses.items()):
        operation["responses"].setdefault(status, {"description": code, "content": content})
    return operation


def _response(doc: RouteDoc, refs: dict[Any, Any]) -> dict[str, Any]:
    if doc.response is None:
        return {"description": "success"}
    return {
        "description": "success",
        "content": {doc.response_content_type: {"schema": refs[(resolve_model(doc.response), "validation")]}},
    }


def _query_parameters(doc: RouteDoc) -> list[dict[str, Any]]:
    if doc.query is None:
        return []
    schema = resolve_model(doc.query).model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": _inline(prop, schema)}
        for name, prop in schema.get("properties", {}).items()
    ]


def _inline(node: Any, root: dict[str, Any]) -> Any:
    """A parameter's schema stands alone in OpenAPI: replace refs to the model's $defs by them."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline(root["$defs"][ref.removeprefix("#/$defs/")], root)
        return {key: _inline(value, root) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, root) for value in node]
    return node
