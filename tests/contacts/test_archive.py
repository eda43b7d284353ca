"""Archiving contacts (API.md "Archive"): kept whole, left out of lists, searches, the plan's
count, tags' counts; unarchived by the API or by a sync that matches them."""

from __future__ import annotations

from typing import Any

import pytest

from app import table_changes
from tests.support.api import Api
from tests.support.contacts import count_as_if
from tests.support.events import LambdaContext
from tests.support.races import competitor_before
from tests.support.workspaces import workspace_of


def make(api: Api, **body: Any) -> dict[str, Any]:
    reply = api.post("/api/v1/contacts", body)
    assert reply.status == 201, reply.json
    return dict(reply.json)


def archive(api: Api, contact_id: str) -> dict[str, Any]:
    reply = api.post(f"/api/v1/contacts/{contact_id}/archive")
    assert reply.status == 200, reply.json
    return dict(reply.json)


def unarchive(api: Api, contact_id: str) -> dict[str, Any]:
    reply = api.post(f"/api/v1/contacts/{contact_id}/unarchive")
    assert reply.status == 200, reply.json
    return dict(reply.json)


def listed(api: Api, query: str = "", limit: int = 50) -> list[list[str]]:
    """Every page of GET /contacts?<query>, as lists of ids."""
    pages, cursor = [], None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        reply = api.get(f"/api/v1/contacts?{query}&limit={limit}{suffix}")
        assert reply.status == 200, reply.json
        pages.append([item["id"] for item in reply.json["items"]])
        cursor = reply.json["nextCursor"]
        if cursor is None:
            return pages


def flat(pages: list[list[str]]) -> set[str]:
    return {cid for page in pages for cid in page}


def contact_count(api: Api) -> int:
    return int(api.get("/api/v1/workspace").json["contactCount"])


@pytest.fixture
def five(api: Api) -> list[dict[str, Any]]:
    return [
        make(api, email=f"p{i}@example.com", firstName="Paula", lastName=f"Doe{i}", tags=["vip"])
        for i in range(5)
    ]


def test_archiving_keeps_the_contact_and_is_idempotent(api: Api, five, requests) -> None:
    # GIVEN a contact
    contact = five[0]
    # WHEN it is archived (one read, one transaction), then archived again
    requests.reset()
    first = archive(api, contact["id"])
    assert requests.snapshot() == {"dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 1}
    requests.reset()
    second = archive(api, contact["id"])
    # THEN it keeps its data, says it is archived, and the second call wrote nothing
    assert first["archived"] is True and first["archivedAt"]
    assert {k: first[k] for k in ("email", "firstName", "tags")} == {
        k: contact[k] for k in ("email", "firstName", "tags")
    }
    assert second == first
    assert not any("Write" in name for name in requests.snapshot()), requests.snapshot()
    assert api.get(f"/api/v1/contacts/{contact['id']}").json == first
    # AND unarchiving twice is the same: back once, then nothing more
    back = unarchive(api, contact["id"])
    assert back["archived"] is False and back["archivedAt"] is None
    assert unarchive(api, contact["id"]) == back


def test_an_unknown_or_other_workspace_contact_is_a_404(api: Api, new_workspace) -> None:
    other = new_workspace(name="Other")
    theirs = make(other, email="theirs@example.com")["id"]
    unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    for path in (f"{theirs}/archive", f"{theirs}/unarchive", f"{unknown}/archive", "x/archive"):
        reply = api.post(f"/api/v1/contacts/{path}")
        assert reply.status == 404 and reply.error_code == "not_found", (path, reply.json)
    assert other.get(f"/api/v1/contacts/{theirs}").json["archived"] is False


def test_archived_contacts_leave_every_list_and_pages_stay_full(api: Api, five) -> None:
    # GIVEN five contacts, two of them archived
    gone = {five[1]["id"], five[3]["id"]}
    for cid in gone:
        archive(api, cid)
    kept = {c["id"] for c in five} - gone
    # THEN every list skips them, in full pages (2 + 1 for limit 2: no short page before the end)
    for query in ("", "status=ACTIVE", "pipelineStage=LEAD", "tag=vip", "q=paula", "q=p1@"):
        pages = listed(api, query, limit=2)
        expected = {cid for cid in kept if query != "q=p1@"}
        assert flat(pages) == expected, query
        assert all(len(page) == 2 for page in pages[:-1]), (query, pages)
    # AND ?archived=true lists them (with the other filters too)
    assert flat(listed(api, "archived=true")) == gone
    assert flat(listed(api, "archived=true&q=paula&tag=vip&status=ACTIVE")) == gone
    assert flat(listed(api, "archived=true&q=p1@")) == {five[1]["id"]}
    assert flat(listed(api, "archived=true&status=BOUNCED")) == set()


def test_a_list_page_is_one_query_and_full_with_archived_contacts_about(api: Api, five, requests) -> None:
    # GIVEN five contacts, the three newest archived
    for contact in five[2:]:
        archive(api, contact["id"])
    api.get("/api/v1/contacts?limit=1")  # warms the key cache: the next calls are the route alone
    # WHEN the first page of two is read
    requests.reset()
    reply = api.get("/api/v1/contacts?limit=2")
    # THEN it is full, with the two live contacts, for one Query
    assert [item["id"] for item in reply.json["items"]] == [five[1]["id"], five[0]["id"]]
    assert requests.snapshot() == {"dynamodb.Query": 1}


def test_archived_contacts_leave_searches_counts_and_tag_counts(api: Api, five) -> None:
    # GIVEN two archived contacts among five
    archive(api, five[0]["id"])
    archive(api, five[4]["id"])
    kept = {c["id"] for c in five[1:4]}
    # THEN the filter search, its count and the tag's count skip them
    for rule in (
        {"field": "firstName", "op": "startsWith", "value": "Pau"},
        {"field": "email", "op": "contains", "value": "example"},
        {"field": "tags", "op": "has", "value": "vip"},
        {"field": "status", "op": "eq", "value": "ACTIVE"},
    ):
        found = api.post("/api/v1/contacts/search", {"filter": rule})
        assert found.status == 200, found.json
        assert {item["id"] for item in found.json["items"]} == kept, rule
        count = api.post("/api/v1/contacts/search/count", {"filter": rule}).json
        assert count == {"count": 3, "exact": True}, rule
    assert api.get("/api/v1/tags").json["items"] == [{"tag": "vip", "contactCount": 3}]
    # AND unarchiving puts one back everywhere
    unarchive(api, five[0]["id"])
    assert api.get("/api/v1/tags").json["items"] == [{"tag": "vip", "contactCount": 4}]
    assert five[0]["id"] in flat(listed(api, "q=paula"))


def test_archived_contacts_do_not_count_toward_the_free_plan(new_workspace) -> None:
    # GIVEN a FREE workspace at its limit (300)
    api = new_workspace(plan="FREE")
    contact = make(api, email="old@example.com")["id"]
    count_as_if(workspace_of(api), 299)
    assert api.post("/api/v1/contacts", {"email": "new@example.com"}).status == 402
    # WHEN one is archived, THEN it leaves the count and a new contact fits
    archive(api, contact)
    assert contact_count(api) == 299
    assert make(api, email="new@example.com")
    assert contact_count(api) == 300
    # AND it cannot come back while the plan is full: 402, still archived
    reply = api.post(f"/api/v1/contacts/{contact}/unarchive")
    assert reply.status == 402 and reply.error_code == "plan_limit_reached", reply.json
    assert api.get(f"/api/v1/contacts/{contact}").json["archived"] is True
    assert contact_count(api) == 300


def test_a_sync_that_matches_an_archived_contact_unarchives_it_and_says_so(api: Api, five) -> None:
    # GIVEN an archived contact
    archive(api, five[2]["id"])
    count = contact_count(api)
    # WHEN a sync names it
    reply = api.post("/api/v1/contacts/sync", {"email": "P2@example.com", "company": "Acme"})
    # THEN it is unarchived (the answer says so), counted and listed again
    assert reply.status == 200, reply.json
    assert reply.json["result"] == "updated" and reply.json["unarchived"] is True
    assert reply.json["contact"]["archived"] is False and reply.json["contact"]["company"] == "Acme"
    assert contact_count(api) == count + 1
    assert five[2]["id"] in flat(listed(api))
    # AND a sync of a contact that was not archived says nothing of the kind
    again = api.post("/api/v1/contacts/sync", {"email": "p2@example.com"})
    assert again.json["unarchived"] is False


def test_an_import_row_that_matches_an_archived_contact_unarchives_it_with_a_warning(api: Api, five) -> None:
    from chalicelib.contacts import bulk_sync

    # GIVEN an archived contact
    archive(api, five[0]["id"])
    # WHEN an import's rows (the bulk sync) name it and a new person
    rows = [{"email": "p0@example.com"}, {"email": "fresh@example.com"}]
    outcomes = bulk_sync.sync_many(workspace_of(api), rows, update_existing=False, source="import:x")
    # THEN the row is reported with a warning, and the contact is listed again
    assert [o.result for o in outcomes] == ["updated", "created"]
    assert outcomes[0].warnings == (
        {"field": "email", "value": "p0@example.com", "reason": "archived contact unarchived"},
    )
    assert five[0]["id"] in flat(listed(api))


def test_two_unarchivers_racing_count_the_contact_once(api: Api, five) -> None:
    """The contact's revision condition: a sync that read the archived contact loses to an
    unarchive that wrote first, reads again, and finds nothing left to unarchive."""
    # GIVEN an archived contact
    contact = five[1]["id"]
    archive(api, contact)
    count = contact_count(api)
    # WHEN an unarchive lands between a sync's read and its write
    with competitor_before(["TransactWriteItems"], "p1@example.com", lambda: unarchive(api, contact)) as race:
        reply = api.post("/api/v1/contacts/sync", {"email": "p1@example.com", "title": "CTO"})
    # THEN the contact is back once: counted once, its change kept
    assert race["ran"]
    assert reply.status == 200, reply.json
    assert contact_count(api) == count + 1
    assert api.get(f"/api/v1/contacts/{contact}").json["title"] == "CTO"
    assert flat(listed(api, "tag=vip")) == {c["id"] for c in five}


def test_an_archive_racing_a_sync_leaves_no_copy_to_find_it_by(api: Api, five) -> None:
    """An archive that read the contact before a sync renamed it reads again: the new name's
    search copy goes too, so no search finds the archived contact."""
    contact = five[3]["id"]

    def rename() -> None:
        renamed = api.post("/api/v1/contacts/sync", {"email": "p3@example.com", "lastName": "Zorro"})
        assert renamed.status == 200

    # WHEN a sync renames the contact between the archive's read and its write
    with competitor_before(["TransactWriteItems"], contact, rename) as race:
        archived = archive(api, contact)
    # THEN the contact is archived with the new name, and no search finds it
    assert race["ran"]
    assert archived["archived"] is True and archived["lastName"] == "Zorro"
    assert flat(listed(api, "q=zorro")) == set()
    assert flat(listed(api, "q=paula")) == {c["id"] for c in five} - {contact}
    assert flat(listed(api, "archived=true&q=zorro")) == {contact}


def test_archiving_and_unarchiving_are_on_the_timeline_once(api: Api, five, pump, fake_clock) -> None:
    # GIVEN a contact archived, then unarchived a minute later
    contact = five[0]["id"]
    archive(api, contact)
    calls = pump.drain()
    fake_clock.advance(60)
    unarchive(api, contact)
    pump.drain()
    # WHEN the archive's stream records come again
    for call in calls:
        if call.kind == "stream":
            table_changes(call.event, LambdaContext("cohort-local-table_changes"))
    # THEN the timeline shows each once, newest first
    items = api.get(f"/api/v1/contacts/{contact}/activity").json["items"]
    assert [item["type"] for item in items] == ["unarchived", "archived"]
