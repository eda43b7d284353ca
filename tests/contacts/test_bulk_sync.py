"""bulk_sync.sync_many: the bulk upsert that imports and group pastes call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.contacts import bulk_sync
from chalicelib.flows import contacts as contact_flows
from tests.support.api import Api
from tests.support.contacts import count_as_if
from tests.support.workspaces import workspace_of


def contact(api: Api, contact_id: str | None) -> dict[str, Any]:
    reply = api.get(f"/api/v1/contacts/{contact_id}")
    assert reply.status == 200, reply.json
    return reply.json


def test_one_outcome_per_row_in_order(api) -> None:
    from chalicelib.contacts import gdpr

    api.post("/api/v1/fields", {"key": "size", "label": "Size", "type": "number"})
    known = api.post("/api/v1/contacts", {"email": "known@example.com", "firstName": "Kim"}).json
    erased = api.post("/api/v1/contacts", {"email": "gone@example.com"}).json
    # In the domain, not over HTTP: Chalice's test client runs requests with the "local"
    # stage's COHORT_SECRET, so the erasure hash must be made with the secret this call sees.
    gdpr.anonymize(workspace_of(api), erased["id"])
    rows: list[Any] = [
        {"email": "new@example.com", "firstName": "Nia"},  # 0 created
        {"email": "NEW@example.com", "lastName": "Ng", "tags": ["b"]},  # 1 merged into 0
        {"email": "not-an-email"},  # 2 failed
        {"phone": "letters only"},  # 3 failed
        {"email": "known@example.com", "company": "Acme"},  # 4 updated
        {"email": "gone@example.com"},  # 5 skipped: erased
        {"firstName": "Nobody"},  # 6 failed: no identity
        {"email": "x@example.com", "customFields": {"size": "big"}},  # 7 failed: type
        {"email": "y@example.com", "tags": [f"t{i}" for i in range(30)]},  # 8 failed: tags
        {"email": "known@example.com", "firstName": "Kim"},  # 9 duplicate of 4, nothing new
        {"phone": "+33612345678", "customFields": {"size": 3}},  # 10 created
        "not an object",  # 11 failed
        {"email": "z@example.com", "shoe": 1},  # 12 failed: unknown field
    ]
    outcomes = bulk_sync.sync_many(workspace_of(api), rows, update_existing=True, source="import")

    assert [o.index for o in outcomes] == list(range(len(rows)))
    results = [o.result for o in outcomes]
    assert results == [
        "created",
        "updated",
        "failed",
        "failed",
        "updated",
        "skipped",
        "failed",
        "failed",
        "failed",
        "unchanged",
        "created",
        "failed",
        "failed",
    ]
    assert outcomes[1].contact_id == outcomes[0].contact_id
    assert outcomes[1].reason == outcomes[9].reason == "duplicate_in_batch"
    assert outcomes[2].reason.startswith("email:") and outcomes[2].value == "not-an-email"
    assert outcomes[3].reason.startswith("phone:") and outcomes[3].value == "letters only"
    assert outcomes[4].contact_id == outcomes[9].contact_id == known["id"]
    assert (outcomes[5].reason, outcomes[5].value, outcomes[5].contact_id) == (
        "erased",
        "gone@example.com",
        None,
    )
    assert outcomes[6].reason.startswith("email:")
    assert outcomes[7].reason.startswith("customFields.size:")
    assert outcomes[8].reason.startswith("tags:")
    assert outcomes[12].reason.startswith("shoe:")
    assert all(o.contact_id is None for o in outcomes if o.result == "failed")

    merged = contact(api, outcomes[0].contact_id)
    assert (merged["email"], merged["firstName"], merged["lastName"], merged["tags"]) == (
        "new@example.com",
        "Nia",
        "Ng",
        ["b"],
    )
    assert merged["source"] == "import"
    assert contact(api, known["id"])["company"] == "Acme"
    assert contact(api, outcomes[10].contact_id)["customFields"] == {"size": 3}
    assert api.get("/api/v1/workspace").json["contactCount"] == 4  # known, the erased one, 0 and 10


def test_a_row_that_would_pass_a_contacts_limits_fails_alone(api) -> None:
    # GIVEN
    full = api.post(
        "/api/v1/contacts", {"email": "full@example.com", "tags": [f"t{i}" for i in range(20)]}
    ).json
    rows = [{"email": "full@example.com", "tags": ["one-more"]}, {"email": "fine@example.com"}]
    # WHEN
    outcomes = bulk_sync.sync_many(workspace_of(api), rows, update_existing=True, source="import")
    # THEN
    assert [(o.result, o.contact_id) for o in outcomes] == [
        ("failed", None),
        ("created", outcomes[1].contact_id),
    ]
    assert outcomes[0].reason.startswith("tags:")
    assert contact(api, full["id"]) == full


def test_update_existing_false_only_adds_the_extra_tags(api) -> None:
    kept = api.post("/api/v1/contacts", {"email": "a@example.com", "firstName": "Ana", "tags": ["old"]}).json
    tagged = api.post("/api/v1/contacts", {"email": "b@example.com", "tags": ["imported"]}).json
    rows = [
        {"email": "a@example.com", "firstName": "Changed", "tags": ["row-tag"]},
        {"email": "b@example.com", "company": "Ignored"},
        {"email": "c@example.com", "firstName": "New", "tags": ["row-tag"]},
        {"email": "C@example.com", "lastName": "Dup"},
    ]
    outcomes = bulk_sync.sync_many(
        workspace_of(api), rows, update_existing=False, source="import", extra_tags=["imported"]
    )
    assert [(o.result, o.reason) for o in outcomes] == [
        ("updated", "exists"),
        ("unchanged", "exists"),
        ("created", None),
        ("updated", "duplicate_in_batch"),  # a contact this call created takes the later rows
    ]
    after = contact(api, kept["id"])
    assert (after["firstName"], after["tags"]) == ("Ana", ["old", "imported"])
    assert contact(api, tagged["id"]) == tagged
    new = contact(api, outcomes[2].contact_id)
    assert (new["firstName"], new["lastName"], new["tags"]) == ("New", "Dup", ["row-tag", "imported"])


def test_the_plan_limit_holds_mid_batch(new_workspace) -> None:
    # GIVEN
    free = new_workspace("FREE")
    ws = workspace_of(free)
    free.post("/api/v1/contacts", {"email": "known@example.com"})
    count_as_if(ws, 296)
    rows = [{"email": f"late{i}@example.com"} for i in range(5)] + [
        {"email": "known@example.com", "title": "T"}
    ]
    # WHEN
    outcomes = bulk_sync.sync_many(ws, rows, update_existing=True, source="import")
    # THEN
    assert [(o.result, o.reason) for o in outcomes] == [("created", None)] * 3 + [
        ("failed", "plan_limit_reached"),
        ("failed", "plan_limit_reached"),
        ("updated", None),
    ]
    assert outcomes[3].value == "late3@example.com"
    assert free.get("/api/v1/workspace").json["contactCount"] == 300


def test_requests_stay_under_the_floor(api, requests) -> None:
    """rows x items-per-row / 25 writes + rows / 100 reads is the floor; the budget 1.3 x."""
    rows = [{"email": f"r{i}@example.com", "firstName": "R", "lastName": f"L{i}"} for i in range(40)]
    ws = workspace_of(api)
    requests.reset()
    outcomes = bulk_sync.sync_many(ws, rows, update_existing=True, source="import")
    assert {o.result for o in outcomes} == {"created"}
    items_per_row = 5  # contact, EMAIL# lookup, 3 search tokens
    floor = len(rows) * items_per_row / 25 + len(rows) / 100
    assert requests.total("dynamodb") <= 1.3 * floor, requests.snapshot()
    assert requests.of("dynamodb", "PutItem") == requests.of("dynamodb", "UpdateItem") == 0
    listed = api.get("/api/v1/contacts?q=r&limit=100").json["items"]
    assert len(listed) == 40


@pytest.fixture
def before_transactions() -> Iterator[Callable[[Callable[[], None]], None]]:
    """Run an action once, just before the next TransactWriteItems leaves (a competing
    writer that wins the race between sync_many's read and its write)."""
    from chalicelib.platform.db import connection

    events = connection().client.meta.events
    hooks: list[Any] = []

    def install(action: Callable[[], None]) -> None:
        def hook(**_: Any) -> None:
            events.unregister("before-call.dynamodb.TransactWriteItems", hook)
            action()

        hooks.append(hook)
        events.register("before-call.dynamodb.TransactWriteItems", hook)

    yield install
    for hook in hooks:
        events.unregister("before-call.dynamodb.TransactWriteItems", hook)


def test_a_cancelled_batch_is_redone_row_by_row(api, before_transactions) -> None:

    # GIVEN
    ws = workspace_of(api)
    rival: dict[str, Any] = {}
    before_transactions(lambda: rival.update(id=contact_flows.create(ws, {"email": "b@example.com"})[0].id))
    rows = [{"email": f"{name}@example.com", "firstName": name} for name in ("a", "b", "c")]
    # WHEN
    outcomes = bulk_sync.sync_many(ws, rows, update_existing=True, source="import")
    # THEN
    assert [o.result for o in outcomes] == ["created", "updated", "created"]
    assert outcomes[1].contact_id == rival["id"]
    assert contact(api, rival["id"])["firstName"] == "b"
    assert api.get("/api/v1/workspace").json["contactCount"] == 3


def test_a_duplicate_redone_row_by_row_keeps_its_warnings(api, before_transactions) -> None:
    # GIVEN a batch whose transaction a rival writer cancels, and a row repeating an earlier
    # row's email with a phone that does not parse
    ws = workspace_of(api)
    before_transactions(lambda: contact_flows.create(ws, {"email": "b@example.com"}))
    rows = [
        {"email": "a@example.com"},
        {"email": "b@example.com"},
        {"email": "a@example.com", "phone": "not a phone"},
    ]
    # WHEN an import's rows (salvaging bad values) are redone one by one
    outcomes = bulk_sync.sync_many(ws, rows, update_existing=True, source="import", salvage=True)
    # THEN the duplicate says so and still reports the phone it left out
    assert outcomes[2].reason == "duplicate_in_batch", outcomes
    assert [w["field"] for w in outcomes[2].warnings] == ["phone"]
