"""Contacts through the HTTP API: create, read, change, delete, conflicts, plans, bad input."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import handlers

from chalicelib.contacts import status as contact_status
from chalicelib.flows import contacts as contact_flows
from tests.support.api import Api
from tests.support.contacts import count_as_if

# moto's TransactWriteItems is not isolated from other threads: it snapshots the whole table,
# applies the actions one by one and, when one fails, restores the snapshot (erasing what
# another thread wrote meanwhile). DynamoDB runs each request atomically; so do these tests,
# by holding a lock for the length of each DynamoDB call while `serialised` is on. Races
# between requests (read, then conditional write) stay exactly as they are.
_CALL_LOCK = threading.Lock()
_SERIALISE = threading.Event()


def _enter(context: dict[str, Any], **_: Any) -> None:
    if _SERIALISE.is_set():
        _CALL_LOCK.acquire()
        context["cohort_serialised"] = True


def _leave(context: dict[str, Any], **_: Any) -> None:
    if context.pop("cohort_serialised", False):
        _CALL_LOCK.release()


handlers.BUILTIN_HANDLERS.extend(
    [("before-call.dynamodb", _enter), ("after-call.dynamodb", _leave), ("after-call-error.dynamodb", _leave)]
)


@pytest.fixture
def serialised() -> Iterator[None]:
    _SERIALISE.set()
    yield
    _SERIALISE.clear()


def table_items(aws: Any) -> list[dict[str, Any]]:
    """Every item of the table (a test may Scan; the product never does)."""
    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": aws.table_name}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def workspace_of(api: Api) -> dict[str, Any]:
    return api.get("/api/v1/workspace").json


def test_create_then_get_shows_the_normalised_contact(api) -> None:
    created = api.post(
        "/api/v1/contacts",
        {
            "email": "  Jean.Dupont@Example.COM ",
            "phone": "06 12 34 56 78",
            "firstName": "Jean",
            "lastName": "Dupont",
            "company": "Acme",
            "title": "CTO",
            "tags": ["vip", "lead", "vip"],
            "pipelineStage": "QUALIFIED",
        },
    )
    assert created.status == 201, created.json
    contact = created.json
    assert "warnings" not in contact  # nothing was left out
    assert contact["email"] == "jean.dupont@example.com"
    assert contact["phone"] == "+33612345678"  # the workspace's default region is FR
    assert contact["tags"] == ["vip", "lead"]
    assert (contact["status"], contact["pipelineStage"], contact["source"]) == ("ACTIVE", "QUALIFIED", "api")
    assert contact["createdAt"].endswith("Z")
    fetched = api.get(f"/api/v1/contacts/{contact['id']}")
    assert fetched.status == 200
    assert fetched.json == contact
    assert workspace_of(api)["contactCount"] == 1


def test_a_taken_email_is_a_conflict_naming_the_existing_contact(api) -> None:
    # GIVEN
    first = api.post("/api/v1/contacts", {"email": "ana@example.com"}).json
    # WHEN
    again = api.post("/api/v1/contacts", {"email": "ANA@example.com", "firstName": "Ana"})
    # THEN
    assert again.status == 409
    assert again.error_code == "conflict"
    assert again.json["error"]["details"] == [{"field": "email", "existingContactId": first["id"]}]
    assert workspace_of(api)["contactCount"] == 1


def test_phone_only_contacts_are_unique_by_phone_but_contacts_with_email_are_not(api) -> None:
    phone_only = api.post("/api/v1/contacts", {"phone": "+33612345678"}).json
    clash = api.post("/api/v1/contacts", {"phone": "06 12 34 56 78"})
    assert clash.status == 409
    assert clash.json["error"]["details"] == [{"field": "phone", "existingContactId": phone_only["id"]}]
    with_email = api.post("/api/v1/contacts", {"phone": "+33612345678", "email": "a@example.com"})
    assert with_email.status == 201
    also = api.post("/api/v1/contacts", {"phone": "+33612345678", "email": "b@example.com"})
    assert also.status == 201


def test_another_workspace_sees_404(api, new_workspace) -> None:
    contact = api.post("/api/v1/contacts", {"email": "a@example.com"}).json
    other = new_workspace(name="Other")
    for reply in (
        other.get(f"/api/v1/contacts/{contact['id']}"),
        other.patch(f"/api/v1/contacts/{contact['id']}", {"firstName": "X"}),
        other.delete(f"/api/v1/contacts/{contact['id']}"),
        other.post(f"/api/v1/contacts/{contact['id']}/anonymize"),
    ):
        assert reply.status == 404
        assert reply.error_code == "not_found"
    assert other.post("/api/v1/contacts", {"email": "a@example.com"}).status == 201  # separate namespaces
    assert api.get(f"/api/v1/contacts/{contact['id']}").json["firstName"] is None


def test_unknown_ids_are_404(api) -> None:
    assert api.get("/api/v1/contacts/nope").status == 404
    assert api.get("/api/v1/contacts/01ARZ3NDEKTSV4RRFFQ69G5FAV").status == 404


def test_patch_changes_what_it_names_and_clears_nulls(api) -> None:
    contact = api.post(
        "/api/v1/contacts", {"email": "a@example.com", "firstName": "Ana", "company": "Acme", "tags": ["x"]}
    ).json
    patched = api.patch(
        f"/api/v1/contacts/{contact['id']}",
        {
            "company": None,
            "title": "CEO",
            "tags": ["y"],
            "status": "UNSUBSCRIBED",
            "email": "Ne@Example.com",
        },
    )
    assert patched.status == 200, patched.json
    body = patched.json
    assert (body["firstName"], body["company"], body["title"]) == ("Ana", None, "CEO")
    assert body["tags"] == ["y"]
    assert body["status"] == "UNSUBSCRIBED"
    assert body["email"] == "ne@example.com"
    assert body["updatedAt"] >= contact["updatedAt"]
    # the old email is free again, the new one is taken
    assert api.post("/api/v1/contacts", {"email": "a@example.com"}).status == 201
    assert api.post("/api/v1/contacts", {"email": "ne@example.com"}).status == 409


def test_patch_with_null_tags_or_custom_fields_empties_them(api) -> None:
    api.post("/api/v1/fields", {"key": "plan", "label": "Plan", "type": "text"})
    body = {"email": "a@example.com", "tags": ["x", "y"], "customFields": {"plan": "pro"}}
    contact = api.post("/api/v1/contacts", body).json
    patched = api.patch(f"/api/v1/contacts/{contact['id']}", {"tags": None, "customFields": None}).json
    assert (patched["tags"], patched["customFields"]) == ([], {})
    assert api.get("/api/v1/contacts?tag=x").json["items"] == []


def test_patch_onto_a_taken_email_is_a_conflict_and_changes_nothing(api, aws) -> None:
    # GIVEN
    ana = api.post("/api/v1/contacts", {"email": "ana@example.com"}).json
    bob = api.post("/api/v1/contacts", {"email": "bob@example.com"}).json
    before = table_items(aws)
    # WHEN
    reply = api.patch(f"/api/v1/contacts/{bob['id']}", {"email": "ana@example.com", "firstName": "Bob"})
    # THEN
    assert reply.status == 409
    assert reply.json["error"]["details"] == [{"field": "email", "existingContactId": ana["id"]}]
    assert table_items(aws) == before


def test_patch_cannot_remove_the_last_identity(api) -> None:
    # GIVEN
    contact = api.post("/api/v1/contacts", {"email": "a@example.com"}).json
    # WHEN
    reply = api.patch(f"/api/v1/contacts/{contact['id']}", {"email": None})
    # THEN
    assert reply.status == 422
    assert {d["field"] for d in reply.json["error"]["details"]} == {"email", "phone"}


def test_delete_removes_the_contact_and_frees_its_email(api) -> None:
    contact = api.post("/api/v1/contacts", {"email": "a@example.com", "tags": ["t"]}).json
    assert api.delete(f"/api/v1/contacts/{contact['id']}").status == 204
    assert api.get(f"/api/v1/contacts/{contact['id']}").status == 404
    assert api.delete(f"/api/v1/contacts/{contact['id']}").status == 404
    assert workspace_of(api)["contactCount"] == 0
    assert api.get("/api/v1/tags").json["items"] == []
    assert api.get("/api/v1/contacts", headers={}).json["items"] == []
    assert api.post("/api/v1/contacts", {"email": "a@example.com"}).status == 201


def test_delete_removes_the_contacts_memberships(api) -> None:
    from chalicelib.models.groups import Membership
    from chalicelib.models.keys import contact_partition

    contact = api.post("/api/v1/contacts", {"email": "a@example.com"}).json
    ws = workspace_of(api)["id"]
    for group_id in ("01ARZ3NDEKTSV4RRFFQ69G5FA1", "01ARZ3NDEKTSV4RRFFQ69G5FA2"):
        Membership(
            *Membership.key(ws, group_id, contact["id"]),
            workspaceId=ws,
            groupId=group_id,
            groupType="STATIC",
            contactId=contact["id"],
            joinedAt="2026-01-01T00:00:00.000Z",
            gsi1pk=contact_partition(ws, contact["id"]),
            gsi1sk=f"GROUP#{group_id}",
        ).save()
    assert api.delete(f"/api/v1/contacts/{contact['id']}").status == 204
    left = list(Membership.gsi1.query(contact_partition(ws, contact["id"])))
    assert left == []


def test_free_plan_stops_at_300_and_the_301st_writes_nothing(new_workspace, aws) -> None:
    free = new_workspace("FREE")
    ws = workspace_of(free)["id"]
    count_as_if(ws, 298)
    assert free.post("/api/v1/contacts", {"email": "first@example.com"}).status == 201
    assert free.post("/api/v1/contacts", {"email": "last@example.com"}).status == 201
    before = table_items(aws)
    over = free.post("/api/v1/contacts", {"email": "over@example.com"})
    assert over.status == 402
    assert over.error_code == "plan_limit_reached"
    synced = free.post("/api/v1/contacts/sync", {"email": "over@example.com"})
    assert synced.status == 402
    assert table_items(aws) == before
    assert workspace_of(free)["contactCount"] == 300
    # updating an existing contact is still fine, and a delete makes room
    assert free.post("/api/v1/contacts/sync", {"email": "last@example.com", "firstName": "L"}).status == 200
    last = free.get("/api/v1/contacts?q=last").json["items"][0]
    assert free.delete(f"/api/v1/contacts/{last['id']}").status == 204
    assert free.post("/api/v1/contacts", {"email": "over@example.com"}).status == 201


def test_twenty_concurrent_creates_of_one_email_make_one_contact(api, serialised) -> None:
    # Through the domain: Chalice's test client shares one current request (and os.environ)
    # between threads, so concurrent HTTP calls through it would race in the client itself.
    from chalicelib.platform.errors import Conflict

    ws = workspace_of(api)["id"]
    created: list[str] = []
    conflicts: list[str] = []
    barrier = threading.Barrier(20)

    def create() -> None:
        barrier.wait()
        try:
            created.append(contact_flows.create(ws, {"email": "race@example.com"})[0].id)
        except Conflict as error:
            conflicts.append(error.details[0]["existingContactId"])

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1
    assert conflicts == created * 19
    assert workspace_of(api)["contactCount"] == 1
    assert [c["id"] for c in api.get("/api/v1/contacts").json["items"]] == created


def test_concurrent_syncs_of_one_new_email_make_one_contact_and_lose_no_update(api, serialised) -> None:

    ws = workspace_of(api)["id"]
    results: list[str] = []
    barrier = threading.Barrier(10)

    def sync(i: int) -> None:
        barrier.wait()
        synced = contact_flows.sync(ws, {"email": "race@example.com", "tags": [f"t{i}"]}, source="api")
        results.append(synced.result)

    threads = [threading.Thread(target=sync, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["created"] + ["updated"] * 9
    contacts = api.get("/api/v1/contacts").json["items"]
    assert len(contacts) == 1
    assert sorted(contacts[0]["tags"]) == sorted(f"t{i}" for i in range(10))
    assert {t["tag"]: t["contactCount"] for t in api.get("/api/v1/tags").json["items"]} == {
        f"t{i}": 1 for i in range(10)
    }


def test_concurrent_creates_and_deletes_keep_the_count_exact(new_workspace, serialised) -> None:

    free = new_workspace("FREE")
    ws = workspace_of(free)["id"]
    made = [free.post("/api/v1/contacts", {"email": f"k{i}@example.com"}).json for i in range(10)]
    barrier = threading.Barrier(20)

    def create(i: int) -> None:
        barrier.wait()
        contact_flows.create(ws, {"email": f"n{i}@example.com"})

    def delete(contact_id: str) -> None:
        barrier.wait()
        contact_flows.delete(ws, contact_id)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(10)]
    threads += [threading.Thread(target=delete, args=(c["id"],)) for c in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listed = free.get("/api/v1/contacts?limit=500").json["items"]
    assert {c["email"] for c in listed} == {f"n{i}@example.com" for i in range(10)}
    assert workspace_of(free)["contactCount"] == 10


def test_idempotency_key_replays_the_first_answer(api) -> None:
    headers = {"Idempotency-Key": "k-1"}
    first = api.post("/api/v1/contacts", {"email": "a@example.com"}, headers=headers)
    again = api.post("/api/v1/contacts", {"email": "a@example.com"}, headers=headers)
    assert first.status == again.status == 201
    assert again.json == first.json
    other_body = api.post("/api/v1/contacts", {"email": "b@example.com"}, headers=headers)
    assert other_body.status == 409
    synced = api.post("/api/v1/contacts/sync", {"email": "c@example.com"}, headers={"Idempotency-Key": "s"})
    replay = api.post("/api/v1/contacts/sync", {"email": "c@example.com"}, headers={"Idempotency-Key": "s"})
    assert (synced.status, replay.status) == (201, 201)
    assert replay.json == synced.json
    assert workspace_of(api)["contactCount"] == 2


class _Crash(BaseException):
    """What a Lambda timeout looks like to the idempotency record: the call never returns."""


def test_a_call_cut_off_by_a_timeout_frees_its_idempotency_key_when_its_time_is_up(api, fake_clock) -> None:
    """On the fake clock (Powertools' "now" included): the 300 ms budget and the wait past it
    are moves of the clock, not sleeps."""
    from dataclasses import dataclass, field
    from datetime import datetime, timedelta

    from chalicelib.api import idempotency
    from chalicelib.platform.errors import Conflict

    @dataclass
    class Context:  # the Lambda context: 300 ms left of this invocation
        ends: datetime = field(default_factory=lambda: fake_clock.now() + timedelta(milliseconds=300))

        def get_remaining_time_in_millis(self) -> int:
            return max(0, int((self.ends - fake_clock.now()).total_seconds() * 1000))

    @dataclass
    class Request:
        lambda_context: Context = field(default_factory=Context)
        headers: dict[str, str] = field(default_factory=lambda: {"idempotency-key": "cut-off"})
        raw_body: bytes = b"{}"

    ws = workspace_of(api)["id"]

    def cut_off() -> tuple[int, dict[str, Any]]:
        with pytest.raises(Conflict, match="still in progress"):  # a retry while it runs
            idempotency.respond(Request(), ws, "test", lambda: (201, {"n": 2}))
        raise _Crash

    # GIVEN a call that never returns (its Lambda timed out), its key recorded "in progress"
    with pytest.raises(_Crash):
        idempotency.respond(Request(), ws, "test", cut_off)
    # WHEN its invocation's time is up and the client retries
    fake_clock.advance(0.4)
    answer = idempotency.respond(Request(), ws, "test", lambda: (201, {"n": 3}))
    # THEN the retry runs
    assert (answer.status_code, answer.body) == (201, {"n": 3})


CONTACTS, SYNC = "/api/v1/contacts", "/api/v1/contacts/sync"
OK = {"email": "a@example.com"}
BAD_INPUT = [
    pytest.param(CONTACTS, "{oops", 400, None, id="not json"),
    pytest.param(CONTACTS, "[1, 2]", 400, None, id="json not an object"),
    pytest.param(
        CONTACTS, '{"email": ' + "[" * 5000 + "]" * 5000 + "}", 400, None, id="json nested 5,000 deep"
    ),
    # Half a UTF-16 pair names no character; DynamoDB's UTF-8 strings cannot hold it.
    pytest.param(
        CONTACTS, r'{"email": "a@example.com", "firstName": "Ana\ud800"}', 400, None, id="lone surrogate"
    ),
    pytest.param(
        SYNC, r'{"email": "a@example.com", "tags": ["\uDFFF"]}', 400, None, id="sync lone surrogate"
    ),
    pytest.param(CONTACTS, {**OK, "favouriteColour": "red"}, 422, "favouriteColour", id="unknown field"),
    pytest.param(CONTACTS, {"email": "nobody.example.com"}, 422, "email", id="email without @"),
    pytest.param(CONTACTS, {"phone": "call me maybe"}, 422, "phone", id="phone of letters"),
    pytest.param(CONTACTS, {**OK, "tags": [f"t{i}" for i in range(10_000)]}, 422, "tags", id="10,000 tags"),
    pytest.param(CONTACTS, {"firstName": "Ana"}, 422, "email", id="no identity"),
    pytest.param(CONTACTS, {**OK, "status": "HAPPY"}, 422, "status", id="bad status"),
    # Leaving these out would change who is emailed, where the contact goes, or hide a typo:
    pytest.param(CONTACTS, {**OK, "phone": "x", "status": "GONE"}, 422, "status", id="bad status beside"),
    pytest.param(CONTACTS, {"email": "nobody", "phone": "+33612345678"}, 422, "email", id="bad email, phone"),
    pytest.param(CONTACTS, {**OK, "groupIds": [""]}, 422, "groupIds.0", id="bad group id"),
    pytest.param(SYNC, {**OK, "consent": {"status": "MAYBE"}}, 422, "consent.status", id="sync bad consent"),
    pytest.param(SYNC, "nope", 400, None, id="sync not json"),
    pytest.param(SYNC, {"email": "nobody"}, 422, "email", id="sync email without @"),
    pytest.param(SYNC, {"phone": "abc"}, 422, "phone", id="sync phone of letters"),
    pytest.param(SYNC, {**OK, "tags": ["t"] * 10_000}, 422, "tags", id="sync 10,000 tags"),
]


@pytest.mark.parametrize(("path", "body", "status", "field"), BAD_INPUT)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(api, aws, path, body, status, field) -> None:
    api.post("/api/v1/fields", {"key": "age", "label": "Age", "type": "number"})
    existing = api.post("/api/v1/contacts", {"email": "keep@example.com"}).json
    before = table_items(aws)
    reply = api.post(path, raw=body) if isinstance(body, str) else api.post(path, body)
    assert reply.status == status, reply.json
    error = reply.json["error"]
    assert error["code"] == ("invalid_request" if status == 400 else "validation_error")
    assert error["message"]
    if field is not None:
        assert field in {d["field"] for d in error["details"]}, error
    assert table_items(aws) == before
    assert api.get(f"/api/v1/contacts/{existing['id']}").status == 200


def test_a_whole_utf16_pair_escaped_in_json_is_its_character(api) -> None:
    reply = api.post(CONTACTS, raw=r'{"email": "emoji@example.com", "firstName": "Ana \ud83d\ude00"}')

    assert reply.status == 201, reply.json
    assert api.get(f"/api/v1/contacts/{reply.json['id']}").json["firstName"] == "Ana \U0001f600"


SECONDARY_BAD = [
    pytest.param({"phone": "call me maybe"}, "phone", id="a phone of letters"),
    pytest.param({"firstName": "x" * 300}, "firstName", id="a 300-character name"),
    pytest.param({"customFields": {"age": "old"}}, "customFields.age", id="a custom wrong type"),
    pytest.param({"customFields": {"shoe": 42}}, "customFields.shoe", id="an undefined custom"),
    pytest.param({"pipelineStage": "MAYBE"}, "pipelineStage", id="an unknown stage"),
]


@pytest.mark.parametrize("path", [CONTACTS, SYNC])
@pytest.mark.parametrize(("bad", "field"), SECONDARY_BAD)
def test_a_bad_secondary_value_is_left_out_with_a_warning_and_the_rest_kept(
    api: Api, path: str, bad: dict[str, Any], field: str
) -> None:
    # The house rule: a record with one bad secondary value is kept without it, and told.
    api.post("/api/v1/fields", {"key": "age", "label": "Age", "type": "number"})
    api.post("/api/v1/fields", {"key": "plan", "label": "Plan", "type": "text"})
    body = {"email": "Ana@Example.com", "firstName": "Ana", "company": "Acme", **bad}
    body.setdefault("customFields", {}).setdefault("plan", "pro")

    reply = api.post(path, body)

    assert reply.status == 201, reply.json
    contact = reply.json if path == CONTACTS else reply.json["contact"]
    stored = api.get(f"/api/v1/contacts/{contact['id']}").json
    (warning,) = reply.json["warnings"]
    top, _, key = field.partition(".")
    given = bad[top][key] if key else bad[top]
    assert (warning["field"], warning["value"]) == (field, str(given)[:200])
    assert warning["reason"]
    assert stored["email"] == "ana@example.com" and stored["company"] == "Acme"
    assert stored["customFields"].get("plan") == "pro"
    if key:
        assert key not in stored["customFields"]
    else:
        assert stored[field] == {"pipelineStage": "LEAD", "firstName": None, "phone": None}[field]


def test_bad_patch_changes_nothing(api, aws) -> None:
    contact = api.post("/api/v1/contacts", {"email": "a@example.com"}).json
    before = table_items(aws)
    bodies = (
        {"firstName": "x" * 300},
        {"phone": "letters"},
        {"nope": 1},
        {"tags": ["t"] * 10_000},
        {"status": None},  # a status and a stage always have a value
        {"pipelineStage": None},
    )
    for body in bodies:
        reply = api.patch(f"/api/v1/contacts/{contact['id']}", body)
        assert reply.status == 422, body
    assert api.patch(f"/api/v1/contacts/{contact['id']}", raw="[]").status == 400
    assert table_items(aws) == before


def test_request_budgets(api, requests) -> None:
    """Create 1 request, get 1, sync-update 2 (one read, one transaction), list page 1."""
    for i in range(3):
        api.post("/api/v1/contacts", {"email": f"warm{i}@example.com"})
    requests.reset()
    created = api.post("/api/v1/contacts", {"email": "a@example.com", "firstName": "A", "tags": ["t"]}).json
    assert requests.total("dynamodb") == 1, requests.snapshot()
    requests.reset()
    api.get(f"/api/v1/contacts/{created['id']}")
    assert requests.total("dynamodb") == 1, requests.snapshot()
    requests.reset()
    updated = api.post("/api/v1/contacts/sync", {"email": "a@example.com", "company": "Acme", "tags": ["u"]})
    assert updated.status == 200
    assert requests.snapshot() == {"dynamodb.BatchGetItem": 1, "dynamodb.TransactWriteItems": 1}
    for query in ("", "?status=ACTIVE", "?tag=t", "?q=a", "?pipelineStage=LEAD", "?status=ACTIVE&tag=u&q=a"):
        requests.reset()
        assert api.get(f"/api/v1/contacts{query}").status == 200
        assert requests.snapshot() == {"dynamodb.Query": 1}, query


def test_a_contact_created_in_groups_costs_four_requests_whatever_the_number_of_groups(api, requests) -> None:
    # GIVEN three groups
    groups = [api.post("/api/v1/groups", {"name": f"G{i}"}).json["id"] for i in range(3)]
    written_with = {1: {"dynamodb.PutItem": 1}, 3: {"dynamodb.TransactWriteItems": 1}}
    for count in (1, 3):
        requests.reset()
        # WHEN a contact is created in `count` of them
        email = f"in{count}@example.com"
        reply = api.post("/api/v1/contacts", {"email": email, "groupIds": groups[:count]})
        # THEN the groups are read once, the contact written once, its memberships checked once
        # and written once (conditional puts: one PutItem, or one transaction for several)
        assert reply.status == 201, reply.json
        memberships = written_with[count]
        expected = {"dynamodb.BatchGetItem": 2, "dynamodb.TransactWriteItems": 1}
        for name, calls in memberships.items():
            expected[name] = expected.get(name, 0) + calls
        assert requests.snapshot() == expected
        assert sum(expected.values()) == 4
        member_groups = api.get(f"/api/v1/contacts/{reply.json['id']}/groups").json["items"]
        assert sorted(g["id"] for g in member_groups) == sorted(groups[:count])


def test_a_new_contact_joins_the_groups_it_names(api, aws) -> None:
    first = api.post("/api/v1/groups", {"name": "Newsletter"}).json
    second = api.post("/api/v1/groups", {"name": "Webinar"}).json
    created = api.post(
        "/api/v1/contacts", {"email": "a@example.com", "groupIds": [first["id"], second["id"]]}
    )
    assert created.status == 201, created.json
    synced = api.post("/api/v1/contacts/sync", {"email": "b@example.com", "groupId": first["id"]})
    assert synced.status == 201, synced.json
    members = {c["id"] for c in api.get(f"/api/v1/contacts?groupId={first['id']}").json["items"]}
    assert members == {created.json["id"], synced.json["contact"]["id"]}
    assert [c["id"] for c in api.get(f"/api/v1/contacts?groupId={second['id']}").json["items"]] == [
        created.json["id"]
    ]
    before = table_items(aws)
    for path in ("/api/v1/contacts", "/api/v1/contacts/sync"):
        unknown = api.post(
            path, {"email": "c@example.com", "groupIds": [first["id"], "01ARZ3NDEKTSV4RRFFQ69G5FA9"]}
        )
        assert unknown.status == 404
        assert unknown.json["error"]["details"][0]["unknownIds"] == ["01ARZ3NDEKTSV4RRFFQ69G5FA9"]
    assert table_items(aws) == before


def test_raise_status_records_why_and_a_sync_keeps_it(api) -> None:
    from chalicelib.platform.errors import NotFound

    contact = api.post("/api/v1/contacts", {"email": "a@example.com", "tags": ["t"]}).json
    ws = workspace_of(api)["id"]
    assert contact_status.raise_status(ws, contact["id"], "UNSUBSCRIBED", "unsubscribe link")
    assert not contact_status.raise_status(ws, contact["id"], "BOUNCED", "hard bounce")  # never lowered
    after = api.get(f"/api/v1/contacts/{contact['id']}").json
    assert (after["status"], after["statusReason"]) == ("UNSUBSCRIBED", "unsubscribe link")
    for query in ("status=UNSUBSCRIBED", "tag=t&status=UNSUBSCRIBED", "q=a&status=UNSUBSCRIBED"):
        assert [c["id"] for c in api.get(f"/api/v1/contacts?{query}").json["items"]] == [contact["id"]], query
    assert api.get("/api/v1/contacts?status=ACTIVE").json["items"] == []
    synced = api.post(
        "/api/v1/contacts/sync", {"email": "a@example.com", "status": "ACTIVE", "firstName": "A"}
    )
    assert synced.json["contact"]["status"] == "UNSUBSCRIBED"
    with pytest.raises(NotFound):
        contact_status.raise_status(ws, "01ARZ3NDEKTSV4RRFFQ69G5FA9", "BOUNCED", "hard bounce")
