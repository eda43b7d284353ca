"""Unauthenticated service routes: health and the OpenAPI document."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.http import json_response, route

bp = Blueprint(__name__)


@route(bp, "/api/v1/health", "GET", summary="Liveness check", response="workspaces.Health", public=True)
def health() -> Response:
    return json_response({"status": "ok"})


@route(bp, "/api/v1/openapi.json", "GET", summary="This API's OpenAPI document", public=True)
def openapi() -> Response:
    from chalicelib.api import openapi as spec

    return json_response(spec.document())
