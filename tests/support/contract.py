"""Every answer a test gets is checked against what the route declares in the OpenAPI
document (chalicelib.api.http.ROUTES): a 2xx JSON body against its view model (no field
missing, none extra, at any depth), an error against the error shape. So the document cannot
drift from what the API answers without a test failing."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel

from chalicelib.api.http import JSON, ROUTES, RouteDoc, resolve_model


@cache
def _patterns() -> list[tuple[re.Pattern[str], RouteDoc]]:
    found = []
    for (path, method), doc in ROUTES.items():
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        found.append((re.compile(f"^{method} {regex}$"), doc))
    return found


def route_of(method: str, path: str) -> RouteDoc | None:
    target = f"{method.upper()} {path.split('?', 1)[0]}"
    for pattern, doc in _patterns():
        if pattern.match(target):
            return doc
    return None


def check(method: str, path: str, status: int, headers: dict[str, str], raw: bytes) -> None:
    doc = route_of(method, path)
    content_type = str(headers.get("Content-Type", headers.get("content-type", "")))
    if doc is None or not raw or not content_type.startswith(JSON):
        return
    body = json.loads(raw)
    if status >= 400:
        assert isinstance(body, dict) and set(body) == {"error"}, body
        assert {"code", "message"} <= set(body["error"]) <= {"code", "message", "details"}, body
        return
    if doc.response is None or not 200 <= status < 300 or status != doc.status:
        return
    model = resolve_model(doc.response)
    parsed = model.model_validate(body)
    _same_keys(parsed, body, doc.path)


def _same_keys(parsed: Any, body: Any, where: str) -> None:
    """Every key of the answer is a field of the model (by alias), recursively."""
    if isinstance(parsed, BaseModel) and isinstance(body, dict):
        fields = {(info.alias or name): name for name, info in type(parsed).model_fields.items()}
        extra = set(body) - set(fields)
        if type(parsed).model_config.get("extra") != "allow":
            assert not extra, f"{where}: the answer has fields its schema lacks: {sorted(extra)}"
        for key, name in fields.items():
            if key in body:
                _same_keys(getattr(parsed, name), body[key], f"{where}.{key}")
    elif isinstance(parsed, list) and isinstance(body, list):
        for index, (item, raw) in enumerate(zip(parsed, body, strict=False)):
            _same_keys(item, raw, f"{where}[{index}]")
