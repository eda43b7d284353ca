"""What a client that sends the wrong Content-Type is told (Python's urllib sends
application/x-www-form-urlencoded with any body unless told otherwise)."""

from __future__ import annotations

from tests.support.api import Api

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_a_json_route_names_json_when_the_body_is_sent_as_a_form(api: Api) -> None:
    reply = api.post("/api/v1/contacts", raw='{"email": "ada@example.com"}', headers=FORM)

    assert reply.status == 400
    assert reply.error_code == "invalid_request"
    assert reply.json["error"]["message"] == "unsupported content type; send application/json"
    assert api.get("/api/v1/contacts").json["items"] == []


def test_the_import_route_names_every_type_it_takes(api: Api) -> None:
    # POST /imports takes JSON options or the CSV itself: "send application/json" alone misleads.
    reply = api.post("/api/v1/imports", raw="email\nada@example.com\n", headers=FORM)

    assert reply.status == 400
    assert reply.error_code == "invalid_request"
    message = reply.json["error"]["message"]
    assert "application/json" in message
    assert "text/csv" in message
    assert api.get("/api/v1/imports").json["items"] == []
