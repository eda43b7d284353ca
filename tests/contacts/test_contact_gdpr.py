"""GDPR: anonymising a contact erases the person and keeps them from coming back."""

from __future__ import annotations

from typing import Any

import boto3

from tests.support.api import Api

PERSON = {
    "email": "forget.me@example.com",
    "phone": "+33612345678",
    "firstName": "Forget",
    "lastName": "Me",
    "company": "Secret Corp",
    "title": "Whistleblower",
    "tags": ["sensitive"],
    "customFields": {"note": "private"},
}


def table_dump(aws: Any) -> str:
    return str(boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"])


def anonymised(api: Api) -> dict[str, Any]:
    api.post("/api/v1/fields", {"key": "note", "label": "Note", "type": "text"})
    api.post("/api/v1/contacts", {"email": "other@example.com", "tags": ["sensitive"]})
    contact = api.post("/api/v1/contacts", PERSON).json
    reply = api.post(f"/api/v1/contacts/{contact['id']}/anonymize")
    assert reply.status == 200, reply.json
    return reply.json


def test_anonymising_erases_every_personal_field(api, aws) -> None:
    contact = anonymised(api)
    for field in ("email", "phone", "firstName", "lastName", "company", "title"):
        assert contact[field] is None, field
    assert (contact["customFields"], contact["tags"], contact["status"]) == ({}, [], "BLOCKED")
    assert contact["anonymizedAt"].endswith("Z")
    assert api.get(f"/api/v1/contacts/{contact['id']}").json == contact
    dump = table_dump(aws)
    for value in (
        "forget.me@example.com",
        "+33612345678",
        "Forget",
        "Secret Corp",
        "Whistleblower",
        "private",
    ):
        assert value not in dump, value


def test_the_erased_person_is_no_longer_found_but_still_counted(api) -> None:
    contact = anonymised(api)
    assert api.get("/api/v1/contacts?q=forget").json["items"] == []
    assert contact["id"] not in {c["id"] for c in api.get("/api/v1/contacts?tag=sensitive").json["items"]}
    assert contact["id"] in {c["id"] for c in api.get("/api/v1/contacts?status=BLOCKED").json["items"]}
    assert api.get("/api/v1/tags").json["items"] == [{"tag": "sensitive", "contactCount": 1}]
    assert api.get("/api/v1/workspace").json["contactCount"] == 2


def test_the_same_person_is_not_stored_again(api) -> None:
    anonymised(api)
    for path, body in (
        ("/api/v1/contacts/sync", {"email": "Forget.Me@example.com", "firstName": "Again"}),
        ("/api/v1/contacts/sync", {"phone": "06 12 34 56 78"}),
        ("/api/v1/contacts/sync", {"email": "new@example.com", "phone": "+33612345678"}),
        ("/api/v1/contacts", {"email": "forget.me@example.com"}),
        ("/api/v1/contacts", {"phone": "+33612345678"}),
    ):
        reply = api.post(path, body)
        assert reply.status == 409, (path, body, reply.json)
        assert reply.error_code == "conflict"
        assert reply.json["error"]["details"][0]["reason"] == "erased"
    assert api.get("/api/v1/workspace").json["contactCount"] == 2


def test_an_anonymised_contact_cannot_be_changed_but_can_be_deleted(api) -> None:
    contact = anonymised(api)
    assert api.patch(f"/api/v1/contacts/{contact['id']}", {"firstName": "Back"}).status == 409
    assert api.post(f"/api/v1/contacts/{contact['id']}/anonymize").json == contact  # idempotent
    assert api.delete(f"/api/v1/contacts/{contact['id']}").status == 204
    assert api.get("/api/v1/workspace").json["contactCount"] == 1
    assert api.post("/api/v1/contacts/sync", {"email": "forget.me@example.com"}).status == 409


def test_a_patch_cannot_give_a_contact_an_erased_persons_email(api) -> None:
    gone = api.post("/api/v1/contacts", {"email": "gone@example.com", "phone": "+33612345678"}).json["id"]
    assert api.post(f"/api/v1/contacts/{gone}/anonymize").status == 200
    other = api.post("/api/v1/contacts", {"email": "other@example.com"}).json
    for change in ({"email": "gone@example.com"}, {"phone": "+33612345678"}):
        reply = api.patch(f"/api/v1/contacts/{other['id']}", change)
        assert reply.status == 409, (change, reply.json)
    assert api.get(f"/api/v1/contacts/{other['id']}").json == other
