"""docs/api.md, the repository's own API reference, lists exactly the routes the API serves
(issue #18, item 7): every route and method of the OpenAPI document the API serves is in it,
and every route it names in backquotes (`GET | PATCH /api/v1/...`) is served."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.api import Api

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
METHOD = r"(?:GET|POST|PUT|PATCH|DELETE)"
# `METHOD[ | METHOD...] /path`, inside backquotes.
ROUTE = re.compile(rf"`({METHOD}(?: \| {METHOD})*) (/[^`\s]*)`")


def documented() -> set[tuple[str, str]]:
    text = REFERENCE.read_text(encoding="utf-8")
    return {
        (path.split("?")[0], method)
        for methods, path in ROUTE.findall(text)
        for method in methods.split(" | ")
    }


def served(client) -> set[tuple[str, str]]:
    reply = Api(client).get("/api/v1/openapi.json")
    assert reply.status == 200
    return {(path, method.upper()) for path, ops in reply.json["paths"].items() for method in ops}


def test_every_served_route_is_in_the_reference(client) -> None:
    missing = sorted(served(client) - documented())
    assert not missing, f"routes served but not in docs/api.md: {missing}"


def test_every_route_in_the_reference_is_served(client) -> None:
    unknown = sorted(documented() - served(client))
    assert not unknown, f"routes in docs/api.md that the API does not serve: {unknown}"


def test_the_reference_is_read_route_by_route() -> None:
    """The parser sees the shapes the reference uses (several methods, public routes)."""
    found = documented()
    assert {("/api/v1/contacts/{id}", m) for m in ("GET", "PATCH", "DELETE")} <= found
    assert ("/f/{formId}", "POST") in found and ("/api/v1/health", "GET") in found
