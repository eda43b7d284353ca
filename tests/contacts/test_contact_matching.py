"""The matching rules of POST /api/v1/contacts/sync, the issue's table row by row, and what a
sync changes on the contact it finds."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api

A, B = "a@example.com", "b@example.com"
P1, P2 = "+33612345678", "+33698765432"

# (existing contacts by name, sync input, expected: (result, name of the updated contact or
# None for a new one, its email, its phone after the sync))
TABLE = [
    pytest.param({}, {"email": A}, ("created", None, A, None), id="email only, unknown -> create"),
    pytest.param(
        {"x": {"email": A}}, {"email": A}, ("updated", "x", A, None), id="email only, known -> update"
    ),
    pytest.param({}, {"phone": P1}, ("created", None, None, P1), id="phone only, unknown -> create"),
    pytest.param(
        {"x": {"phone": P1}},
        {"phone": "06 12 34 56 78"},
        ("updated", "x", None, P1),
        id="phone only, phone-only",
    ),
    pytest.param(
        {"x": {"email": A, "phone": P1}},
        {"phone": P1},
        ("created", None, None, P1),
        id="phone only, only a contact with email has it -> new phone-only contact",
    ),
    pytest.param(
        {}, {"email": A, "phone": P1}, ("created", None, A, P1), id="new email + new phone -> create"
    ),
    pytest.param(
        {"x": {"email": B, "phone": P1}},
        {"email": A, "phone": P1},
        ("created", None, A, P1),
        id="new email + phone of a contact with email -> create",
    ),
    pytest.param(
        {"x": {"phone": P1}},
        {"email": A, "phone": P1},
        ("updated", "x", A, P1),
        id="new email + phone of a phone-only contact -> it gains the email",
    ),
    pytest.param(
        {"x": {"email": A, "phone": P2}},
        {"email": A, "phone": P1},
        ("updated", "x", A, P1),
        id="known email + new phone -> phone set to the new one",
    ),
    pytest.param(
        {"x": {"email": A, "phone": P1}, "y": {"phone": P2}},
        {"email": A, "phone": P2},
        ("updated", "x", A, P1),
        id="known email + known phone -> email and phone stay",
    ),
]


def contact_count(api: Api) -> int:
    return api.get("/api/v1/workspace").json["contactCount"]


@pytest.mark.parametrize(("existing", "given", "expected"), TABLE)
def test_matching_rules(
    api, existing: dict[str, dict[str, Any]], given: dict[str, Any], expected: tuple
) -> None:
    made = {}
    for name, body in existing.items():
        reply = api.post("/api/v1/contacts", {**body, "firstName": name})
        assert reply.status == 201, reply.json
        made[name] = reply.json
    result, target, email, phone = expected

    reply = api.post("/api/v1/contacts/sync", {**given, "lastName": "Synced"})

    assert reply.status == (201 if result == "created" else 200), reply.json
    assert reply.json["result"] == result
    contact = reply.json["contact"]
    assert (contact["email"], contact["phone"], contact["lastName"]) == (email, phone, "Synced")
    if target is None:
        assert contact["id"] not in {c["id"] for c in made.values()}
        assert contact_count(api) == len(made) + 1
    else:
        assert contact["id"] == made[target]["id"]
        assert contact["firstName"] == target  # other fields kept
        assert contact_count(api) == len(made)
    for name, before in made.items():  # the contacts not matched are untouched
        if name != target:
            assert api.get(f"/api/v1/contacts/{before['id']}").json == before
    assert api.get(f"/api/v1/contacts/{contact['id']}").json == contact


def test_a_phone_only_contact_that_gained_an_email_no_longer_answers_to_its_phone(api) -> None:
    # GIVEN
    phone_only = api.post("/api/v1/contacts/sync", {"phone": P1}).json["contact"]
    api.post("/api/v1/contacts/sync", {"email": A, "phone": P1})
    # WHEN
    again = api.post("/api/v1/contacts/sync", {"phone": P1})
    # THEN
    assert again.json["result"] == "created"
    assert again.json["contact"]["id"] != phone_only["id"]
    assert api.post("/api/v1/contacts/sync", {"email": A}).json["contact"]["id"] == phone_only["id"]


@pytest.mark.parametrize("status", ["UNSUBSCRIBED", "BOUNCED", "BLOCKED", "REPLIED"])
def test_sync_never_turns_a_status_back_into_active(api, status: str) -> None:
    contact = api.post("/api/v1/contacts", {"email": A, "status": status}).json
    for body in ({"email": A, "status": "ACTIVE"}, {"email": A, "firstName": "Back"}):
        synced = api.post("/api/v1/contacts/sync", body)
        assert synced.status == 200
        assert synced.json["contact"]["status"] == status
    assert api.get(f"/api/v1/contacts/{contact['id']}").json["status"] == status


def test_sync_can_raise_a_status(api) -> None:
    api.post("/api/v1/contacts", {"email": A})
    assert (
        api.post("/api/v1/contacts/sync", {"email": A, "status": "REPLIED"}).json["contact"]["status"]
        == "REPLIED"
    )
    assert (
        api.post("/api/v1/contacts/sync", {"email": A, "status": "BOUNCED"}).json["contact"]["status"]
        == "BOUNCED"
    )
    # The ladder deliverability events climb: UNSUBSCRIBED is above BOUNCED, never below.
    assert (
        api.post("/api/v1/contacts/sync", {"email": A, "status": "UNSUBSCRIBED"}).json["contact"]["status"]
        == "UNSUBSCRIBED"
    )
    assert (
        api.post("/api/v1/contacts/sync", {"email": A, "status": "BOUNCED"}).json["contact"]["status"]
        == "UNSUBSCRIBED"
    )


def test_sync_keeps_what_it_is_not_given_and_adds_tags_and_fields(api) -> None:
    api.post("/api/v1/fields", {"key": "plan", "label": "Plan", "type": "select", "options": ["a", "b"]})
    api.post("/api/v1/fields", {"key": "seats", "label": "Seats", "type": "number"})
    first = api.post(
        "/api/v1/contacts/sync",
        {
            "email": A,
            "firstName": "Ana",
            "company": "Acme",
            "tags": ["x"],
            "customFields": {"plan": "a", "seats": 3},
            "source": "webinar",
        },
    ).json["contact"]
    second = api.post(
        "/api/v1/contacts/sync",
        {
            "email": A,
            "company": None,
            "title": "CEO",
            "tags": ["y"],
            "customFields": {"seats": 5},
            "source": "x",
        },
    )
    assert second.status == 200
    contact = second.json["contact"]
    assert contact["id"] == first["id"]
    assert (contact["firstName"], contact["company"], contact["title"]) == ("Ana", "Acme", "CEO")
    assert contact["tags"] == ["x", "y"]
    assert contact["customFields"] == {"plan": "a", "seats": 5}
    assert contact["source"] == "webinar"


def test_a_sync_that_changes_nothing_is_updated_and_writes_nothing(api, requests) -> None:
    # GIVEN
    api.post("/api/v1/contacts/sync", {"email": A, "firstName": "Ana"})
    requests.reset()
    # WHEN
    same = api.post("/api/v1/contacts/sync", {"email": A, "firstName": "Ana"})
    # THEN
    assert (same.status, same.json["result"]) == (200, "updated")
    assert requests.snapshot() == {"dynamodb.BatchGetItem": 1}


def test_phone_numbers_are_read_in_the_workspace_region(client) -> None:
    from tests.conftest import ADMIN_TOKEN

    created = Api(client).post(
        "/api/v1/workspaces",
        {"name": "US", "plan": "PRO", "defaultRegion": "US"},
        headers={"X-Admin-Token": ADMIN_TOKEN},
    )
    us = Api(client, created.json["apiKey"])
    contact = us.post("/api/v1/contacts/sync", {"phone": "(201) 555-0123"}).json["contact"]
    assert contact["phone"] == "+12015550123"
    assert (
        us.post("/api/v1/contacts/sync", {"phone": "+1 201 555 0123"}).json["contact"]["id"] == contact["id"]
    )
