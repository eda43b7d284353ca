"""A form post that matches an archived contact unarchives it, and the JSON answer says so."""

from __future__ import annotations

from tests.support.api import Api
from tests.support.forms import contact_by_email, json_post, make_form


def test_a_form_post_unarchives_the_contact_it_matches(api: Api) -> None:
    # GIVEN an archived contact and a form
    form = make_form(api, tags=["newsletter"])
    contact = api.post("/api/v1/contacts", {"email": "ada@example.com"}).json["id"]
    assert api.post(f"/api/v1/contacts/{contact}/archive").status == 200
    # WHEN the person posts the form again
    reply = json_post(api, form["id"], {"email": "ada@example.com", "firstName": "Ada"})
    # THEN the contact is unarchived, listed again with the form's tag, and the answer says so
    assert reply.status == 200, reply.json
    assert reply.json["result"] == "updated"
    assert {"field": "contact", "value": "archived", "reason": "archived contact unarchived"} in reply.json[
        "warnings"
    ]
    found = contact_by_email(api, "ada@example.com")
    assert found["archived"] is False and found["tags"] == ["newsletter"]
