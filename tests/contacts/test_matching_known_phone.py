"""The matching table's last row (issue #18, item 1): a known email given with a phone that
another contact has, with or without an email. The email's contact keeps its email and its
phone, its other fields update, and the phone left out is reported as a warning."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.campaigns import workspace_of

BOB, PAUL = "bob@example.com", "paul@example.com"
BOB_PHONE, PAUL_PHONE, OTHER = "+33612000009", "+33612000001", "+33612000002"


def sync(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post("/api/v1/contacts/sync", body)
    assert reply.status in (200, 201), reply.json
    return dict(reply.json)


def contact(api: Api, contact_id: str) -> dict[str, Any]:
    return dict(api.get(f"/api/v1/contacts/{contact_id}").json)


def bob_and_paul(api: Api) -> tuple[str, str]:
    bob = sync(api, {"email": BOB, "phone": BOB_PHONE, "firstName": "Bob"})["contact"]["id"]
    paul = sync(api, {"email": PAUL, "phone": PAUL_PHONE, "firstName": "Paul"})["contact"]["id"]
    return bob, paul


def test_a_known_email_with_another_contacts_phone_keeps_its_phone(api: Api) -> None:
    bob, paul = bob_and_paul(api)
    answer = sync(api, {"email": BOB, "phone": PAUL_PHONE, "firstName": "Bobby"})
    assert (answer["result"], answer["contact"]["id"]) == ("updated", bob)
    assert (answer["contact"]["phone"], answer["contact"]["firstName"]) == (BOB_PHONE, "Bobby")
    [warning] = answer["warnings"]
    assert (warning["field"], warning["value"]) == ("phone", PAUL_PHONE)
    assert "another contact has this phone" in warning["reason"]
    assert contact(api, bob)["phone"] == BOB_PHONE
    assert (contact(api, paul)["email"], contact(api, paul)["phone"]) == (PAUL, PAUL_PHONE)


def test_a_known_email_with_a_new_phone_takes_it_without_warning(api: Api) -> None:
    bob_and_paul(api)
    answer = sync(api, {"email": BOB, "phone": OTHER})
    assert (answer["contact"]["phone"], answer["warnings"]) == (OTHER, [])


def test_a_phone_another_contact_gave_up_is_new_again(api: Api) -> None:
    bob, paul = bob_and_paul(api)
    assert contact(api, bob)["phone"] == BOB_PHONE
    assert api.patch(f"/api/v1/contacts/{paul}", {"phone": OTHER}).status == 200
    answer = sync(api, {"email": BOB, "phone": PAUL_PHONE})
    assert (answer["contact"]["phone"], answer["warnings"]) == (PAUL_PHONE, [])


def test_a_phone_alone_still_identifies_only_a_contact_without_email(api: Api) -> None:
    bob, paul = bob_and_paul(api)
    answer = sync(api, {"phone": PAUL_PHONE, "firstName": "Anon"})
    assert answer["result"] == "created"
    assert answer["contact"]["id"] not in (bob, paul) and answer["contact"]["email"] is None


def test_the_bulk_sync_keeps_the_phone_and_says_so(api: Api) -> None:
    from chalicelib.contacts import bulk_sync

    bob, paul = bob_and_paul(api)
    rows = [
        {"email": BOB, "phone": PAUL_PHONE, "firstName": "Bobby"},
        {"email": "new@example.com", "phone": OTHER},
        {"email": PAUL, "phone": OTHER, "lastName": "Later"},  # OTHER: the row above's, now
    ]
    outcomes = bulk_sync.sync_many(workspace_of(api), rows, update_existing=True, source="test")
    assert [o.result for o in outcomes] == ["updated", "created", "updated"]
    assert outcomes[0].warnings == (
        {"field": "phone", "value": PAUL_PHONE, "reason": outcomes[0].warnings[0]["reason"]},
    )
    assert outcomes[1].warnings == () and outcomes[2].warnings[0]["value"] == OTHER
    assert (contact(api, bob)["phone"], contact(api, bob)["firstName"]) == (BOB_PHONE, "Bobby")
    assert (contact(api, paul)["phone"], contact(api, paul)["lastName"]) == (PAUL_PHONE, "Later")
