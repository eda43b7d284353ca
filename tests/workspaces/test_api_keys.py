"""API keys (docs/api.md, API keys): several per workspace, named, scoped full or read,
revocable (401 everywhere within the minute the per-container cache keeps a key), lastUsedAt
written at most once a minute, the key of an older workspace migrated in place."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.models.workspaces import ApiKey, Workspace
from chalicelib.platform import clock
from chalicelib.workspaces import keys
from tests.support.api import Api


def another_container() -> None:
    """What another Lambda container (or this one, a minute later) sees: no cached key."""
    keys.forget_cached()


def new_key(api: Api, name: str = "CI", scope: str = "full") -> dict[str, Any]:
    reply = api.post("/api/v1/keys", {"name": name, "scope": scope})
    assert reply.status == 201, reply.json
    return dict(reply.json)


def test_keys_are_listed_named_scoped_and_shown_once(new_workspace: Any) -> None:
    api = new_workspace()
    created = new_key(api, "Zapier", "read")
    assert created["apiKey"].startswith(created["prefix"]) and created["scope"] == "read"
    listed = api.get("/api/v1/keys").json
    assert [(k["name"], k["scope"]) for k in listed["items"]] == [("Default key", "full"), ("Zapier", "read")]
    assert listed["nextCursor"] is None
    assert all("apiKey" not in k for k in listed["items"])
    assert listed["items"][0]["lastUsedAt"] is not None  # the key that listed them
    assert api.get(f"/api/v1/keys/{created['id']}").json == {
        k: v for k, v in created.items() if k != "apiKey"
    }
    page = api.get("/api/v1/keys?limit=1").json
    assert len(page["items"]) == 1 and page["nextCursor"]
    rest = api.get(f"/api/v1/keys?limit=1&cursor={page['nextCursor']}").json
    assert rest["items"][0]["name"] == "Zapier"


def test_a_read_key_reads_and_is_refused_every_write(new_workspace: Any, client: Any) -> None:
    api = new_workspace()
    contact = api.post("/api/v1/contacts", {"email": "ada@example.com"}).json["id"]
    reader = Api(client, new_key(api, "dashboard", "read")["apiKey"])
    assert reader.get(f"/api/v1/contacts/{contact}").json["email"] == "ada@example.com"
    assert reader.get("/api/v1/workspace").status == 200
    writes = [
        reader.post("/api/v1/contacts", {"email": "bob@example.com"}),
        reader.patch(f"/api/v1/contacts/{contact}", {"firstName": "Eve"}),
        reader.put(f"/api/v1/contacts/{contact}/groups", {"groupIds": []}),
        reader.delete(f"/api/v1/contacts/{contact}"),
        reader.post("/api/v1/keys", {"name": "escalate", "scope": "full"}),
    ]
    assert [(r.status, r.error_code) for r in writes] == [(403, "forbidden")] * len(writes)
    # Only a full key manages keys, reading them included.
    assert reader.get("/api/v1/keys").status == 403
    assert api.get(f"/api/v1/contacts/{contact}").json["firstName"] is None
    assert len(api.get("/api/v1/contacts").json["items"]) == 1
    assert len(api.get("/api/v1/keys").json["items"]) == 2


def test_a_revoked_key_answers_401_everywhere_within_the_cache_bound(new_workspace: Any, client: Any) -> None:
    api = new_workspace()
    second = new_key(api, "laptop")
    other = Api(client, second["apiKey"])
    assert other.get("/api/v1/workspace").status == 200  # cached in this container now
    revoked = api.delete(f"/api/v1/keys/{second['id']}")
    assert revoked.status == 200 and revoked.json["revokedAt"]
    # This container forgot it at once; another one at the latest when its cache entry ends.
    assert other.get("/api/v1/workspace").status == 401
    another_container()
    reply = other.get("/api/v1/contacts")
    assert (reply.status, reply.error_code) == (401, "unauthorized")
    assert api.get(f"/api/v1/keys/{second['id']}").json["revokedAt"] == revoked.json["revokedAt"]
    assert keys.CACHE_SECONDS <= 60
    # Revoking it again changes nothing.
    assert api.delete(f"/api/v1/keys/{second['id']}").json["revokedAt"] == revoked.json["revokedAt"]


def test_a_cached_key_is_dropped_after_the_cache_bound(
    new_workspace: Any, client: Any, monkeypatch: Any
) -> None:
    """A container that cached a key before its revocation elsewhere stops accepting it once
    its entry is older than 60 s."""
    import time

    api = new_workspace()
    second = new_key(api, "laptop")
    other = Api(client, second["apiKey"])
    assert other.get("/api/v1/workspace").status == 200
    ApiKey(*ApiKey.key(keys.hash_key(second["apiKey"]))).update(
        actions=[ApiKey.revokedAt.set(clock.now_iso())]
    )  # revoked by another container: this one's cache still holds it
    assert other.get("/api/v1/workspace").status == 200
    later = time.monotonic() + 61
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert other.get("/api/v1/workspace").status == 401


def test_the_last_full_key_cannot_be_revoked(new_workspace: Any, client: Any) -> None:
    api = new_workspace()
    first = api.get("/api/v1/keys").json["items"][0]
    new_key(api, "reader", "read")
    reply = api.delete(f"/api/v1/keys/{first['id']}")
    assert (reply.status, reply.error_code) == (409, "conflict")
    assert reply.json["error"]["details"][0]["keyId"] == first["id"]
    assert api.get(f"/api/v1/keys/{first['id']}").json["revokedAt"] is None
    second = new_key(api, "rotation")
    assert api.delete(f"/api/v1/keys/{first['id']}").status == 200
    assert api.get("/api/v1/workspace").status == 401  # the first key itself is gone
    rotated = Api(client, second["apiKey"])
    assert (rotated.delete(f"/api/v1/keys/{second['id']}").status) == 409
    assert rotated.get("/api/v1/workspace").status == 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scope": "admin"},
        {"name": "x", "scope": "FULL"},
        {"name": "x"},
        {"name": "", "scope": "read"},
        {"scope": "read"},
        {"name": "x", "scope": "read", "extra": 1},
    ],
)
def test_bad_key_bodies_are_422_and_write_nothing(new_workspace: Any, body: dict[str, Any]) -> None:
    api = new_workspace()
    reply = api.post("/api/v1/keys", body)
    assert (reply.status, reply.error_code) == (422, "validation_error"), reply.json
    assert reply.json["error"]["details"]
    assert len(api.get("/api/v1/keys").json["items"]) == 1


def test_last_used_is_written_at_most_once_a_minute(
    new_workspace: Any, requests: Any, monkeypatch: Any
) -> None:
    api = new_workspace()
    requests.reset()
    for _ in range(5):
        another_container()  # every request a cache miss: the worst case
        assert api.get("/api/v1/workspace").status == 200
    assert requests.of("dynamodb", "UpdateItem") == 1, requests.calls
    # A minute later, one more.
    later = clock.now() + timedelta(seconds=61)
    monkeypatch.setattr(clock, "now", lambda: later)
    requests.reset()
    another_container()
    api.get("/api/v1/workspace")
    assert requests.of("dynamodb", "UpdateItem") == 1, requests.calls
    first = api.get("/api/v1/keys").json["items"][0]
    assert first["lastUsedAt"] == clock.iso(later)


def test_a_key_of_an_older_workspace_is_migrated_in_place(new_workspace: Any, client: Any) -> None:
    """A workspace made before scoped keys: its one key item has only workspaceId and
    createdAt, and the workspace no count of full keys. It keeps working, as a full key."""
    from chalicelib.platform import ids

    ws_id = ids.new_id()
    Workspace(*Workspace.key(ws_id), id=ws_id, name="Old", plan="PRO", createdAt=clock.now_iso()).save()
    secret = keys.new_secret()
    ApiKey(*ApiKey.key(keys.hash_key(secret)), workspaceId=ws_id, createdAt="2026-01-01T00:00:00.000Z").save()
    old = Api(client, secret)
    assert old.get("/api/v1/workspace").json["id"] == ws_id
    listed = old.get("/api/v1/keys").json["items"]
    assert [(k["name"], k["scope"], k["createdAt"]) for k in listed] == [
        ("Default key", "full", "2026-01-01T00:00:00.000Z")
    ]
    item = ApiKey.get(*ApiKey.key(keys.hash_key(secret)))
    assert item.id == listed[0]["id"] and item.prefix == secret[:10]
    # The migrated key is the only full one: not revocable until another exists.
    assert old.delete(f"/api/v1/keys/{item.id}").status == 409
    another_container()
    assert old.post("/api/v1/contacts", {"email": "a@example.com"}).status == 201  # full scope
    newer = new_key(old, "new")
    assert old.delete(f"/api/v1/keys/{item.id}").status == 200
    assert Api(client, newer["apiKey"]).delete(f"/api/v1/keys/{newer['id']}").status == 409


def test_keys_of_another_workspace_are_not_found(new_workspace: Any, client: Any) -> None:
    a, b = new_workspace(name="A"), new_workspace(name="B")
    a_key = new_key(a, "a-ci")
    assert b.get(f"/api/v1/keys/{a_key['id']}").status == 404
    assert b.delete(f"/api/v1/keys/{a_key['id']}").status == 404
    assert [k["name"] for k in b.get("/api/v1/keys").json["items"]] == ["Default key"]
    assert a.get(f"/api/v1/keys/{a_key['id']}").json["revokedAt"] is None
    # A key acts on its own workspace only.
    assert Api(client, a_key["apiKey"]).get("/api/v1/workspace").json["name"] == "A"
    cursor = a.get("/api/v1/keys?limit=1").json["nextCursor"]
    assert b.get(f"/api/v1/keys?cursor={cursor}").status == 422
