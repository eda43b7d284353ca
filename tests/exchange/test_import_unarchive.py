"""An import row that matches an archived contact unarchives it, and the report says so."""

from __future__ import annotations

from tests.support.api import Api
from tests.support.imports import import_body


def test_an_import_row_unarchives_the_contact_it_matches_with_a_warning(api: Api, pump) -> None:
    # GIVEN an archived contact
    contact = api.post("/api/v1/contacts", {"email": "ann@example.com"}).json["id"]
    assert api.post(f"/api/v1/contacts/{contact}/archive").status == 200
    # WHEN a file names her and someone new
    view = import_body(api, pump, b"Email,First name\nann@example.com,Ann\nbob@example.com,Bob\n")
    # THEN her row is a warning of the report, and she is listed again
    assert view["status"] == "COMPLETED" and view["created"] == 1
    warnings = [(e["row"], e["value"], e["reason"]) for e in view["errors"] if e["result"] == "warning"]
    assert len(warnings) == 1 and warnings[0][:2] == (1, "ann@example.com")
    assert "archived contact unarchived" in warnings[0][2]
    assert api.get(f"/api/v1/contacts/{contact}").json["archived"] is False
    assert contact in [c["id"] for c in api.get("/api/v1/contacts").json["items"]]
