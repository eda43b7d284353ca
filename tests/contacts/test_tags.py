"""Tags: counts, the tag filter, rename and merge across contacts, limits."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api


def tag_counts(api: Api) -> dict[str, int]:
    reply = api.get("/api/v1/tags?limit=500")
    assert reply.status == 200, reply.json
    return {item["tag"]: item["contactCount"] for item in reply.json["items"]}


def tagged(api: Api, tag: str) -> set[str]:
    return {item["id"] for item in api.get(f"/api/v1/contacts?tag={tag}&limit=500").json["items"]}


def make(api: Api, email: str, tags: list[str]) -> dict[str, Any]:
    reply = api.post("/api/v1/contacts", {"email": email, "tags": tags})
    assert reply.status == 201, reply.json
    return reply.json


def test_counts_follow_creates_changes_and_deletes(api) -> None:
    a = make(api, "a@example.com", ["vip", "fr"])
    b = make(api, "b@example.com", ["vip"])
    api.post("/api/v1/contacts/sync", {"phone": "+33612345678", "tags": ["fr", "new"]})
    assert tag_counts(api) == {"fr": 2, "new": 1, "vip": 2}
    api.patch(f"/api/v1/contacts/{a['id']}", {"tags": ["fr", "gold"]})
    api.delete(f"/api/v1/contacts/{b['id']}")
    assert tag_counts(api) == {"fr": 2, "gold": 1, "new": 1}  # vip no longer used: not listed
    assert tagged(api, "vip") == set()
    assert tagged(api, "gold") == {a["id"]}


def test_tags_are_paginated_in_name_order(api) -> None:
    make(api, "a@example.com", [f"tag{i:02d}" for i in range(12)])
    names: list[str] = []
    cursor = None
    while True:
        reply = api.get("/api/v1/tags?limit=5" + (f"&cursor={cursor}" if cursor else ""))
        names += [item["tag"] for item in reply.json["items"]]
        cursor = reply.json["nextCursor"]
        if cursor is None:
            break
    assert names == [f"tag{i:02d}" for i in range(12)]


def test_rename_moves_every_contact_to_the_new_tag(api) -> None:
    made = [make(api, f"p{i}@example.com", ["old", "keep"]) for i in range(5)]
    other = make(api, "x@example.com", ["keep"])
    reply = api.post("/api/v1/tags/rename", {"from": "old", "to": "Renamed"})
    assert reply.status == 200, reply.json
    assert reply.json == {
        "tag": "Renamed",
        "merged": False,
        "contactsChanged": 5,
        "contactCount": 5,
        "done": True,
    }
    assert tag_counts(api) == {"Renamed": 5, "keep": 6}
    assert tagged(api, "Renamed") == {c["id"] for c in made}
    assert tagged(api, "old") == set()
    for contact in made:
        assert api.get(f"/api/v1/contacts/{contact['id']}").json["tags"] == ["Renamed", "keep"]
    assert api.get(f"/api/v1/contacts/{other['id']}").json == other


def test_renaming_onto_an_existing_tag_merges_them(api) -> None:
    # GIVEN
    both = make(api, "both@example.com", ["a", "b"])
    only_a = make(api, "a@example.com", ["a"])
    only_b = make(api, "b@example.com", ["b"])
    # WHEN
    reply = api.post("/api/v1/tags/rename", {"from": "a", "to": "b"})
    # THEN
    assert reply.json == {"tag": "b", "merged": True, "contactsChanged": 2, "contactCount": 3, "done": True}
    assert tag_counts(api) == {"b": 3}
    assert api.get(f"/api/v1/contacts/{both['id']}").json["tags"] == ["b"]
    assert tagged(api, "b") == {both["id"], only_a["id"], only_b["id"]}


def test_merge_several_tags_into_one(api) -> None:
    # GIVEN
    make(api, "1@example.com", ["Lead", "lead"])
    make(api, "2@example.com", ["LEAD"])
    make(api, "3@example.com", ["lead", "other"])
    # WHEN
    reply = api.post("/api/v1/tags/merge", {"from": ["Lead", "LEAD"], "into": "lead"})
    # THEN
    assert reply.status == 200, reply.json
    assert reply.json["contactCount"] == 3
    assert reply.json["merged"] is True
    assert reply.json["done"] is True
    assert tag_counts(api) == {"lead": 3, "other": 1}


def test_bad_tag_requests_are_422_and_change_nothing(api) -> None:
    make(api, "a@example.com", ["x"])
    for body in (
        {"from": "x"},
        {"from": "x", "to": ""},
        {"from": "x", "to": "y" * 65},
        {"from": "x", "to": "x"},
    ):
        reply = api.post("/api/v1/tags/rename", body)
        assert reply.status == 422, body
        assert reply.error_code == "validation_error"
    assert api.post("/api/v1/tags/merge", {"from": [], "into": "x"}).status == 422
    assert tag_counts(api) == {"x": 1}


def test_a_contact_has_at_most_twenty_tags_of_at_most_64_characters(api) -> None:
    assert (
        api.post("/api/v1/contacts", {"email": "a@example.com", "tags": [f"t{i}" for i in range(20)]}).status
        == 201
    )
    too_many = api.post("/api/v1/contacts", {"email": "b@example.com", "tags": [f"t{i}" for i in range(21)]})
    assert too_many.status == 422
    assert too_many.json["error"]["details"][0]["field"] == "tags"
    for tag in ("x" * 65, "", "line\nbreak"):
        reply = api.post("/api/v1/contacts", {"email": "c@example.com", "tags": [tag]})
        assert reply.status == 422, tag
        assert reply.json["error"]["details"][0]["field"].startswith("tags")
    full = api.post("/api/v1/contacts/sync", {"email": "a@example.com", "tags": ["one-more"]})
    assert full.status == 422
    assert full.json["error"]["details"][0]["field"] == "tags"


def test_a_rename_out_of_time_says_so_and_goes_on_when_called_again(api) -> None:
    from chalicelib.contacts import tags

    made = [make(api, f"p{i}@example.com", ["old"]) for i in range(3)]
    ws = api.get("/api/v1/workspace").json["id"]
    assert tags.rename(ws, "old", "new", budget_seconds=0) == (False, 0, False)
    assert tag_counts(api) == {"old": 3}
    assert tags.rename(ws, "old", "new") == (False, 3, True)
    assert tagged(api, "new") == {c["id"] for c in made}
