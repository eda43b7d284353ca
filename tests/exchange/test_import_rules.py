"""The rules an import follows: those of /contacts/sync, updateExisting, the plan's limit in the
middle of a file, the group every row joins (a dynamic one enrolls each new member once), and
the 4xx answers to what a client can get wrong."""

from __future__ import annotations

import json

from tests.support.campaigns import enrollments, make_contacts, new_group, running_campaign, verify_sender
from tests.support.imports import contacts_by_email, import_body, import_upload, outcomes


def test_update_existing_false_only_adds_group_and_the_imports_tags(api, pump) -> None:
    group = new_group(api, "Salon")
    kept = api.post(
        "/api/v1/contacts", {"email": "kept@example.com", "firstName": "Old", "company": "OldCo"}
    ).json
    data = b"email,first name,company\nkept@example.com,New,NewCo\nfresh@example.com,Fresh,FreshCo\n"
    view = import_upload(api, pump, data, groupId=group, tags=["salon-2026"])
    assert (view["created"], view["updated"], view["skipped"], view["failed"]) == (1, 1, 0, 0)
    contacts = contacts_by_email(api)
    assert (contacts["kept@example.com"]["firstName"], contacts["kept@example.com"]["company"]) == (
        "Old",
        "OldCo",
    )
    assert contacts["kept@example.com"]["tags"] == ["salon-2026"]
    assert (contacts["fresh@example.com"]["firstName"], contacts["fresh@example.com"]["tags"]) == (
        "Fresh",
        ["salon-2026"],
    )
    members = api.get(f"/api/v1/groups/{group}/members").json["items"]
    assert sorted(m["id"] for m in members) == sorted([kept["id"], contacts["fresh@example.com"]["id"]])
    # Imported again: nothing new for anyone, every row says so.
    again = import_upload(api, pump, data, groupId=group, tags=["salon-2026"])
    assert (again["created"], again["updated"], again["skipped"]) == (0, 0, 2)
    assert set(outcomes(again).values()) == {
        ("skipped", "already a contact; left unchanged because updateExisting is false")
    }


def test_update_existing_true_updates_fields_but_never_resubscribes(api, pump) -> None:
    gone = api.post("/api/v1/contacts", {"email": "gone@example.com", "firstName": "Old"}).json
    assert api.patch(f"/api/v1/contacts/{gone['id']}", {"status": "UNSUBSCRIBED"}).status == 200
    data = b"email,first name,status\ngone@example.com,New,active\n"
    view = import_body(api, pump, data, updateExisting="true")
    assert (view["updated"], view["failed"]) == (1, 0)
    contact = contacts_by_email(api)["gone@example.com"]
    assert (contact["firstName"], contact["status"]) == ("New", "UNSUBSCRIBED")


def test_the_plan_limit_holds_in_the_middle_of_a_file(new_workspace, pump) -> None:
    # GIVEN
    free = new_workspace(plan="FREE")
    make_contacts(free, 296)
    data = "email\n" + "".join(f"new{i}@example.com\n" for i in range(1, 7))
    # WHEN
    view = import_body(free, pump, data.encode())
    # THEN
    assert (view["status"], view["created"], view["failed"]) == ("COMPLETED", 4, 2)
    assert outcomes(view) == {
        row: ("failed", "the workspace's plan allows no more contacts; upgrade to import this row")
        for row in (5, 6)
    }
    assert free.get("/api/v1/workspace").json["contactCount"] == 300


def test_joining_a_dynamic_group_by_import_enrolls_each_new_member_once(api, pump) -> None:
    verify_sender(api)
    dynamic = new_group(api, "Imported", "DYNAMIC")
    campaign = running_campaign(api, [dynamic], steps=[{"type": "email", "subject": "Hi", "bodyText": "."}])
    pump.drain()
    data = b"email\nann@example.com\nbob@example.com\nANN@example.com\n"
    view = import_body(api, pump, data, groupId=dynamic)
    assert (view["created"], view["updated"] + view["skipped"]) == (2, 1)
    again = import_body(api, pump, data, groupId=dynamic)  # already members: nothing fires again
    assert again["created"] == 0
    contacts = contacts_by_email(api)
    enrolled = enrollments(api, campaign)
    assert sorted(e["contactId"] for e in enrolled) == sorted(c["id"] for c in contacts.values())
    assert {e["source"] for e in enrolled} == {"dynamicGroup"}
    assert api.get(f"/api/v1/groups/{dynamic}").json["memberCount"] == 2


def test_what_a_client_gets_wrong_is_a_4xx_that_changes_nothing(api, new_workspace) -> None:
    other = new_workspace(name="Other")
    foreign_group = new_group(other, "Theirs")
    csv_headers = {"Content-Type": "text/csv"}
    cases = [
        (api.post("/api/v1/imports", {"groupId": foreign_group}), 404, "not_found"),
        (api.post("/api/v1/imports", {"mapping": {"Mail": "emial"}}), 422, "validation_error"),
        (api.post("/api/v1/imports", {"updateExisting": "maybe"}), 422, "validation_error"),
        (api.post("/api/v1/imports", {"unknown": 1}), 422, "validation_error"),
        (api.post("/api/v1/imports", raw=b"{not json"), 400, "invalid_request"),
        (api.post("/api/v1/imports", raw=b"", headers=csv_headers), 400, "invalid_request"),
        (
            api.post("/api/v1/imports?mapping={oops", raw=b"email\na@b.c\n", headers=csv_headers),
            422,
            "validation_error",
        ),
        (
            api.post("/api/v1/imports?mapping=" + "%5B" * 3000, raw=b"email\na@b.c\n", headers=csv_headers),
            422,
            "validation_error",
        ),
        (
            api.post("/api/v1/imports", raw=b"e" * (5 * 1024 * 1024 + 1), headers=csv_headers),
            413,
            "payload_too_large",
        ),
        (
            api.post("/api/v1/imports", raw=b"email\n", headers={"Content-Type": "image/png"}),
            400,
            "invalid_request",
        ),
        (api.get("/api/v1/imports/01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404, "not_found"),
        (api.get("/api/v1/imports/not-an-id/errors.csv"), 404, "not_found"),
        # options in the query string beside a JSON body would be dropped unsaid (schemathesis)
        (
            api.post("/api/v1/imports?updateExisting=true&tags=a", {"fileName": "x.csv"}),
            400,
            "invalid_request",
        ),
    ]
    for reply, status, code in cases:
        assert (reply.status, reply.error_code) == (status, code), reply.json
    assert api.get("/api/v1/imports").json == {"items": [], "nextCursor": None}
    mapping_error = api.post("/api/v1/imports", {"mapping": {"Mail": "emial"}}).json["error"]
    assert mapping_error["details"][0]["field"] == "mapping.Mail"
    beside = api.post("/api/v1/imports?updateExisting=true&tags=a", {"fileName": "x"}).json["error"]
    assert [d["field"] for d in beside["details"]] == ["tags", "updateExisting"]


def test_imports_of_one_workspace_are_invisible_to_another(api, new_workspace, pump) -> None:
    # GIVEN
    view = import_body(api, pump, b"email\nann@example.com\n")
    # WHEN
    other = new_workspace(name="Other")
    # THEN
    assert other.get(f"/api/v1/imports/{view['id']}").status == 404
    assert other.get(f"/api/v1/imports/{view['id']}/errors.csv").status == 404
    assert other.get("/api/v1/imports").json["items"] == []


def test_imports_list_newest_first_by_pages_and_the_report_waits_for_the_end(api, pump) -> None:
    first = import_body(api, pump, b"email\na@example.com\n")
    second = import_body(api, pump, b"email\nb@example.com\n", fileName="second.csv")
    pending = api.post("/api/v1/imports", {"fileName": "later.csv"}).json
    page = api.get("/api/v1/imports?limit=2").json
    assert [item["id"] for item in page["items"]] == [pending["id"], second["id"]]
    rest = api.get(f"/api/v1/imports?limit=2&cursor={page['nextCursor']}").json
    assert [item["id"] for item in rest["items"]] == [first["id"]]
    waiting = api.get(f"/api/v1/imports/{pending['id']}/errors.csv")
    assert (waiting.status, waiting.error_code) == (409, "conflict")
    assert api.get(f"/api/v1/imports/{pending['id']}").json["status"] == "PENDING"


def test_the_same_idempotency_key_starts_one_import(api, pump) -> None:
    # GIVEN
    headers = {"Content-Type": "text/csv", "Idempotency-Key": "import-1"}
    one = api.post("/api/v1/imports", raw=b"email\nann@example.com\n", headers=headers)
    # WHEN
    two = api.post("/api/v1/imports", raw=b"email\nann@example.com\n", headers=headers)
    # THEN
    assert one.status == two.status == 201 and one.json == two.json
    assert len(api.get("/api/v1/imports").json["items"]) == 1
    assert json.loads(api.post("/api/v1/imports", raw=b"email\nbob@example.com\n", headers=headers).body)[
        "error"
    ]["code"] == ("conflict")
