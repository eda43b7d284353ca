"""Custom fields: definitions and the checking of contact values against their type."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api

DEFINITIONS = [
    {"key": "bio", "label": "Bio", "type": "text"},
    {"key": "seats", "label": "Seats", "type": "number"},
    {"key": "renewal", "label": "Renewal", "type": "date"},
    {"key": "vip", "label": "VIP", "type": "boolean"},
    {"key": "plan", "label": "Plan", "type": "select", "options": ["free", "pro"]},
    {"key": "site", "label": "Site", "type": "url"},
]


@pytest.fixture
def defined(api: Api) -> Api:
    for definition in DEFINITIONS:
        reply = api.post("/api/v1/fields", definition)
        assert reply.status == 201, reply.json
    return api


def test_definitions_are_listed(defined) -> None:
    reply = defined.get("/api/v1/fields")
    assert reply.status == 200
    listed = {item["key"]: item for item in reply.json["items"]}
    assert set(listed) == {d["key"] for d in DEFINITIONS}
    assert listed["plan"]["options"] == ["free", "pro"]
    assert listed["bio"]["options"] is None
    assert listed["seats"]["type"] == "number"
    assert listed["seats"]["createdAt"].endswith("Z")


def test_a_key_is_defined_once(defined) -> None:
    again = defined.post("/api/v1/fields", {"key": "seats", "label": "Other", "type": "text"})
    assert again.status == 409
    assert again.error_code == "conflict"


@pytest.mark.parametrize(
    "body",
    [
        {"key": "1st", "label": "x", "type": "text"},
        {"key": "has space", "label": "x", "type": "text"},
        {"key": "k", "label": "", "type": "text"},
        {"key": "k", "label": "x", "type": "colour"},
        {"key": "k", "label": "x", "type": "select"},
        {"key": "k", "label": "x", "type": "select", "options": ["a", "a"]},
        {"key": "k", "label": "x", "type": "text", "options": ["a"]},
        {"key": "k", "label": "x", "type": "text", "extra": True},
    ],
)
def test_bad_definitions_are_422(api, body: dict[str, Any]) -> None:
    reply = api.post("/api/v1/fields", body)
    assert reply.status == 422, reply.json
    assert api.get("/api/v1/fields").json["items"] == []


GOOD = {
    "bio": "Likes DynamoDB",
    "seats": 12.5,
    "renewal": "2027-02-28",
    "vip": True,
    "plan": "pro",
    "site": "https://example.com/about",
}
BAD = [
    ("bio", 42),
    ("bio", "x" * 1001),
    ("seats", "12"),
    ("seats", True),
    ("seats", 1e300),
    ("seats", 1e-200),  # closer to zero than DynamoDB stores
    ("renewal", "28/02/2027"),
    ("renewal", "2027-02-30"),
    ("vip", "yes"),
    ("plan", "gold"),
    ("site", "not a url"),
    ("site", "ftp://example.com"),
    ("unknown", "x"),
]


def test_values_of_every_type_are_stored(defined) -> None:
    created = defined.post("/api/v1/contacts", {"email": "a@example.com", "customFields": GOOD})
    assert created.status == 201, created.json
    assert created.json["customFields"] == GOOD
    assert defined.get(f"/api/v1/contacts/{created.json['id']}").json["customFields"] == GOOD


def test_a_value_of_the_wrong_type_is_left_out_with_a_warning_naming_the_field(defined) -> None:
    for n, (key, value) in enumerate(BAD):
        reply = defined.post("/api/v1/contacts", {"email": f"a{n}@example.com", "customFields": {key: value}})
        assert reply.status == 201, (key, value, reply.json)
        assert [w["field"] for w in reply.json["warnings"]] == [f"customFields.{key}"]
        assert reply.json["customFields"] == {}
        assert defined.get(f"/api/v1/contacts/{reply.json['id']}").json["customFields"] == {}


def test_patch_merges_values_and_null_removes_one(defined) -> None:
    contact = defined.post("/api/v1/contacts", {"email": "a@example.com", "customFields": GOOD}).json
    patched = defined.patch(f"/api/v1/contacts/{contact['id']}", {"customFields": {"seats": 3, "bio": None}})
    assert patched.status == 200, patched.json
    expected = {**GOOD, "seats": 3}
    del expected["bio"]
    assert patched.json["customFields"] == expected
    bad = defined.patch(f"/api/v1/contacts/{contact['id']}", {"customFields": {"vip": "no"}})
    assert bad.status == 422
    assert defined.get(f"/api/v1/contacts/{contact['id']}").json["customFields"] == expected


def test_every_bad_value_is_reported_at_once_and_the_good_ones_kept(defined) -> None:
    body = {"email": "a@example.com", "customFields": {"seats": "x", "vip": 1, "nope": 2, "plan": "pro"}}
    reply = defined.post("/api/v1/contacts", body)
    assert reply.status == 201, reply.json
    fields = {w["field"] for w in reply.json["warnings"]}
    assert fields == {"customFields.seats", "customFields.vip", "customFields.nope"}
    assert reply.json["customFields"] == {"plan": "pro"}


def test_an_idempotency_key_replays_the_first_definition(api) -> None:
    body, key = {"key": "plan", "label": "Plan", "type": "text"}, {"Idempotency-Key": "field-1"}
    first, again = (api.post("/api/v1/fields", body, headers=key) for _ in range(2))
    assert (first.status, again.status, again.json) == (201, 201, first.json)
    assert api.post("/api/v1/fields", {**body, "label": "Other"}, headers=key).status == 409
    assert api.post("/api/v1/fields", body).status == 409  # without the key: already defined
