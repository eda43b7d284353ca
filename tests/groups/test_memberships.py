"""Memberships: adding by id and by email, validating, removing, listing members and a
contact's groups (each one Query), setting a contact's groups, static and dynamic groups."""

from __future__ import annotations

from chalicelib.platform.ids import new_id
from tests.support.contacts import make_contacts
from tests.support.groups import add, member_ids, new_group
from tests.support.workspaces import workspace_of


def _membership_changes(calls) -> list:
    """Every Membership record the stream delivered, as the reactions see them."""
    from chalicelib.platform.streams import to_change

    changes = [to_change(record) for call in calls if call.kind == "stream" for record in call.records]
    return [change for change in changes if change.item_type == "Membership"]


def _membership_inserts(calls) -> list[dict]:
    """The NewImage of every Membership INSERT (what the campaign engine enrolls from)."""
    return [change.new for change in _membership_changes(calls) if change.event_name == "INSERT"]


# ---- adding -----------------------------------------------------------------------------------


def test_adding_counts_new_members_and_already_members_once(api, pump) -> None:
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 4)
    first = add(api, group, [*contacts[:2], contacts[0], contacts[1]])
    assert first == {"added": 2, "alreadyMember": 0, "created": 0, "invalid": []}
    again = add(api, group, contacts)
    assert again == {"added": 2, "alreadyMember": 2, "created": 0, "invalid": []}
    assert sorted(member_ids(api, group)) == sorted(contacts)


def test_an_already_member_is_not_written_again_so_nothing_fires_twice(api, pump) -> None:
    group = new_group(api, "Inbound", "DYNAMIC")
    contacts = make_contacts(api, 2)
    add(api, group, contacts)
    assert len(_membership_inserts(pump.drain())) == 2
    add(api, group, contacts)
    assert _membership_changes(pump.drain()) == []  # no INSERT, not even a MODIFY


def test_unknown_or_foreign_contact_ids_are_404_and_nothing_is_written(api, new_workspace) -> None:
    group = new_group(api, "Leads")
    mine = make_contacts(api, 2)
    theirs = make_contacts(new_workspace(name="Other"), 1, prefix="other")[0]
    for bad in (theirs, new_id(), "not-an-id"):
        reply = api.post(
            f"/api/v1/groups/{group}/members", {"contactIds": [*mine, bad], "emails": ["new@x.com"]}
        )
        assert (reply.status, reply.error_code) == (404, "not_found")
        assert reply.json["error"]["details"] == [{"field": "contactIds", "unknownIds": [bad]}]
    assert member_ids(api, group) == []
    assert api.get("/api/v1/workspace").json["contactCount"] == 2  # new@x.com was not created


def test_more_than_1000_per_call_is_422(api) -> None:
    group = new_group(api, "Leads")
    too_many = [new_id() for _ in range(1001)]
    for body in (
        {"contactIds": too_many},
        {"emails": [f"p{i}@x.com" for i in range(1001)]},
        {"contactIds": too_many[:600], "emails": [f"p{i}@x.com" for i in range(401)]},
        {},
        {"contactIds": []},
        {"contactIds": "abc"},
    ):
        reply = api.post(f"/api/v1/groups/{group}/members", body)
        assert (reply.status, reply.error_code) == (422, "validation_error"), list(body)


def test_emails_join_known_contacts_create_unknown_ones_and_report_invalid_ones(api, pump) -> None:
    # GIVEN
    group = new_group(api, "Pasted")
    known = make_contacts(api, 1, prefix="known")[0]
    # WHEN
    report = add(
        api,
        group,
        emails=["Known0@Example.com", "fresh@example.com", "FRESH@example.com", "not an email", "a@b@c", ""],
    )
    # THEN
    assert (report["added"], report["alreadyMember"], report["created"]) == (2, 0, 1)
    assert sorted(item["value"] for item in report["invalid"]) == ["", "a@b@c", "not an email"]
    assert all(item["reason"] for item in report["invalid"])
    members = api.get(f"/api/v1/groups/{group}/members").json["items"]
    assert sorted(m["email"] for m in members) == ["fresh@example.com", "known0@example.com"]
    assert known in [m["id"] for m in members]


def test_validate_gives_the_same_report_and_changes_nothing(api, pump) -> None:
    group = new_group(api, "Pasted")
    known = make_contacts(api, 2, prefix="known")
    add(api, group, known[:1])
    gone = api.post("/api/v1/contacts", {"email": "gone@example.com"}).json["id"]
    assert api.post(f"/api/v1/contacts/{gone}/anonymize").status == 200  # an erased person
    emails = ["known0@example.com", "known1@example.com", "new@example.com", "nope", "gone@example.com"]
    body = {"emails": emails}
    checked = api.post(f"/api/v1/groups/{group}/members/validate", body)
    assert checked.status == 200
    assert api.get("/api/v1/workspace").json["contactCount"] == 3
    assert member_ids(api, group) == [known[0]]
    done = api.post(f"/api/v1/groups/{group}/members", body)
    assert checked.json == done.json
    assert done.json["created"] == 1
    assert {i["value"]: i["reason"] for i in done.json["invalid"]}.keys() == {"nope", "gone@example.com"}


def test_a_free_workspace_past_its_limit_reports_the_emails_it_could_not_create(new_workspace) -> None:
    from chalicelib.models.workspaces import Workspace

    # GIVEN
    api = new_workspace("FREE")
    group = new_group(api, "Pasted")
    # The plan's count as the contact writes keep it (299 of 300), rather than 299 contacts.
    Workspace(*Workspace.key(workspace_of(api))).update([Workspace.contactCount.set(299)])
    body = {"emails": ["last@example.com", "one-too-many@example.com"]}
    checked = api.post(f"/api/v1/groups/{group}/members/validate", body).json
    # WHEN
    report = add(api, group, emails=body["emails"])
    # THEN
    assert checked == report  # validate counts the plan's room too
    assert report["created"] == 1
    assert [item["value"] for item in report["invalid"]] == ["one-too-many@example.com"]
    assert "plan" in report["invalid"][0]["reason"]


# ---- removing ---------------------------------------------------------------------------------


def test_removing_members_keeps_the_contacts(api) -> None:
    # GIVEN
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 3)
    add(api, group, contacts[:2])
    # WHEN
    reply = api.post(f"/api/v1/groups/{group}/members/remove", {"contactIds": [*contacts, contacts[0]]})
    # THEN
    assert reply.status == 200
    assert reply.json == {"removed": 2, "notMember": 1}
    assert member_ids(api, group) == []
    assert all(api.get(f"/api/v1/contacts/{c}").status == 200 for c in contacts)


def test_removing_an_unknown_contact_is_404_and_removes_nothing(api) -> None:
    # GIVEN
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 2)
    add(api, group, contacts)
    # WHEN
    reply = api.post(f"/api/v1/groups/{group}/members/remove", {"contactIds": [contacts[0], new_id()]})
    # THEN
    assert reply.status == 404
    assert sorted(member_ids(api, group)) == sorted(contacts)


def test_removing_one_member(api) -> None:
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 2)
    add(api, group, contacts)
    assert api.delete(f"/api/v1/groups/{group}/members/{contacts[0]}").status == 204
    assert member_ids(api, group) == [contacts[1]]
    again = api.delete(f"/api/v1/groups/{group}/members/{contacts[0]}")
    assert (again.status, again.error_code) == (404, "not_found")
    assert api.get(f"/api/v1/contacts/{contacts[0]}").status == 200


# ---- listing ----------------------------------------------------------------------------------


def test_member_listing_is_one_query_and_pages(api, requests) -> None:
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 7)
    add(api, group, contacts)
    requests.reset()
    page = api.get(f"/api/v1/groups/{group}/members?limit=5")
    assert requests.snapshot() == {"dynamodb.Query": 1}
    assert len(page.json["items"]) == 5
    rest = api.get(f"/api/v1/groups/{group}/members?limit=5&cursor={page.json['nextCursor']}").json
    assert rest["nextCursor"] is None
    assert sorted(item["id"] for item in page.json["items"] + rest["items"]) == sorted(contacts)
    first = page.json["items"][0]
    assert set(first) == {
        "id",
        "email",
        "phone",
        "firstName",
        "lastName",
        "company",
        "title",
        "status",
        "joinedAt",
    }


def test_members_filter_by_q_and_status_in_one_query(api, requests, pump) -> None:
    group = new_group(api, "Leads")
    jean, marie, paul = (
        make_contacts(api, 1, prefix="jean.dupont", firstName="Jean", lastName="Dupont")
        + make_contacts(api, 1, prefix="marie", firstName="Marie", lastName="Curie")
        + make_contacts(api, 1, prefix="paul", firstName="Élodie", lastName="Durand")
    )
    add(api, group, [jean, marie, paul])
    assert api.patch(f"/api/v1/contacts/{marie}", {"status": "UNSUBSCRIBED"}).status == 200
    pump.drain()
    requests.reset()
    assert sorted(member_ids(api, group, q="DU")) == sorted([jean, paul])
    assert requests.snapshot() == {"dynamodb.Query": 1}
    assert member_ids(api, group, q="elodie") == [paul]
    assert member_ids(api, group, q="jean du") == [jean]
    assert member_ids(api, group, q="marie0@") == [marie]
    assert member_ids(api, group, q="zzz") == []
    requests.reset()
    assert member_ids(api, group, status="UNSUBSCRIBED") == [marie]
    assert requests.snapshot() == {"dynamodb.Query": 1}
    assert sorted(member_ids(api, group, status="ACTIVE")) == sorted([jean, paul])
    assert member_ids(api, group, status="ACTIVE", q="curie") == []
    assert api.get(f"/api/v1/groups/{group}/members?status=GONE").status == 422


def test_an_empty_group_lists_no_members(api) -> None:
    group = new_group(api, "Empty")
    assert api.get(f"/api/v1/groups/{group}/members").json == {"items": [], "nextCursor": None}


def test_member_snapshots_follow_contact_changes(api, pump) -> None:
    # GIVEN
    group = new_group(api, "Leads")
    contact = make_contacts(api, 1)[0]
    add(api, group, [contact])
    # WHEN
    api.patch(f"/api/v1/contacts/{contact}", {"firstName": "Zoé", "company": "Acme", "email": "zoe@acme.io"})
    # THEN
    assert all(call.ok for call in pump.drain())
    member = api.get(f"/api/v1/groups/{group}/members").json["items"][0]
    assert (member["firstName"], member["company"], member["email"]) == ("Zoé", "Acme", "zoe@acme.io")
    assert member_ids(api, group, q="zoe") == [contact]
    assert member_ids(api, group, q="person0") == []


def test_an_anonymised_contact_leaves_no_personal_data_in_its_memberships(api, pump) -> None:
    # GIVEN
    group = new_group(api, "Leads")
    contact = make_contacts(api, 1)[0]
    add(api, group, [contact])
    # WHEN / THEN
    assert api.post(f"/api/v1/contacts/{contact}/anonymize").status == 200
    assert all(call.ok for call in pump.drain())
    member = api.get(f"/api/v1/groups/{group}/members").json["items"][0]
    assert (member["email"], member["firstName"], member["lastName"]) == (None, None, None)
    assert "person0" not in api.get(f"/api/v1/groups/{group}/export").text


def test_a_deleted_contact_leaves_its_groups(api, pump) -> None:
    # GIVEN
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 2)
    add(api, group, contacts)
    # WHEN / THEN
    assert api.delete(f"/api/v1/contacts/{contacts[0]}").status == 204
    assert all(call.ok for call in pump.drain())
    assert member_ids(api, group) == [contacts[1]]


# ---- a contact's groups -----------------------------------------------------------------------


def test_a_static_and_a_dynamic_group_share_members(api, pump, requests) -> None:
    static = new_group(api, "Trade show 2024", "STATIC", color="navy")
    dynamic = new_group(api, "[DYN] Inbound", "DYNAMIC")
    a, b, c = make_contacts(api, 3)
    add(api, static, [a, b])
    add(api, dynamic, [b, c])
    inserts = _membership_inserts(pump.drain())
    ws = workspace_of(api)
    # The stream record alone tells workspace, group, group type and contact.
    seen = {(i["workspaceId"], i["groupId"], i["groupType"], i["contactId"]) for i in inserts}
    assert seen == {
        (ws, static, "STATIC", a),
        (ws, static, "STATIC", b),
        (ws, dynamic, "DYNAMIC", b),
        (ws, dynamic, "DYNAMIC", c),
    }
    requests.reset()
    groups_of_b = api.get(f"/api/v1/contacts/{b}/groups")
    assert requests.snapshot() == {"dynamodb.Query": 1}
    assert sorted((g["id"], g["name"], g["type"], g["color"]) for g in groups_of_b.json["items"]) == sorted(
        [(static, "Trade show 2024", "STATIC", "navy"), (dynamic, "[DYN] Inbound", "DYNAMIC", None)]
    )
    assert [g["id"] for g in api.get(f"/api/v1/contacts/{a}/groups").json["items"]] == [static]
    assert sorted(member_ids(api, static)) == sorted([a, b])
    assert sorted(member_ids(api, dynamic)) == sorted([b, c])


def test_a_contact_in_no_group_lists_none_and_an_unknown_contact_is_404(api, new_workspace) -> None:
    contact = make_contacts(api, 1)[0]
    assert api.get(f"/api/v1/contacts/{contact}/groups").json == {"items": [], "nextCursor": None}
    theirs = make_contacts(new_workspace(name="Other"), 1, prefix="other")[0]
    assert api.get(f"/api/v1/contacts/{theirs}/groups").status == 404
    assert api.get(f"/api/v1/contacts/{new_id()}/groups").status == 404


def test_a_type_change_applies_to_new_memberships_only(api, pump) -> None:
    # GIVEN
    group = new_group(api, "Leads", "STATIC")
    early, late = make_contacts(api, 2)
    add(api, group, [early])
    pump.drain()
    # WHEN
    api.patch(f"/api/v1/groups/{group}", {"type": "DYNAMIC", "name": "Leads (auto)"})
    add(api, group, [late])
    inserts = _membership_inserts(pump.drain())
    # THEN
    assert [(i["contactId"], i["groupType"]) for i in inserts] == [(late, "DYNAMIC")]
    early_view = api.get(f"/api/v1/contacts/{early}/groups").json["items"][0]
    assert (early_view["name"], early_view["type"], early_view["joinedAs"]) == (
        "Leads (auto)",
        "DYNAMIC",
        "STATIC",
    )
    late_view = api.get(f"/api/v1/contacts/{late}/groups").json["items"][0]
    assert (late_view["type"], late_view["joinedAs"]) == ("DYNAMIC", "DYNAMIC")


def test_put_sets_a_contacts_groups_to_exactly_the_list(api, pump) -> None:
    g1, g2, g3 = (new_group(api, name) for name in ("One", "Two", "Three"))
    contact = make_contacts(api, 1)[0]
    add(api, g1, [contact])
    add(api, g2, [contact])
    pump.drain()
    reply = api.put(f"/api/v1/contacts/{contact}/groups", {"groupIds": [g2, g3, g3]})
    assert reply.status == 200
    assert reply.json == {"groupIds": sorted([g2, g3]), "added": 1, "removed": 1}
    inserts = _membership_inserts(pump.drain())
    assert [i["groupId"] for i in inserts] == [g3]  # g2 was kept, not rewritten
    listed = api.get(f"/api/v1/contacts/{contact}/groups").json["items"]
    assert sorted(g["id"] for g in listed) == sorted([g2, g3])
    assert api.put(f"/api/v1/contacts/{contact}/groups", {"groupIds": []}).json["removed"] == 2
    assert api.get(f"/api/v1/contacts/{contact}/groups").json["items"] == []


def test_put_with_an_unknown_group_is_404_and_changes_nothing(api, new_workspace) -> None:
    # GIVEN
    mine = new_group(api, "Mine")
    theirs = new_group(new_workspace(name="Other"), "Theirs")
    contact = make_contacts(api, 1)[0]
    add(api, mine, [contact])
    # WHEN
    reply = api.put(f"/api/v1/contacts/{contact}/groups", {"groupIds": [theirs]})
    # THEN
    assert (reply.status, reply.error_code) == (404, "not_found")
    assert [g["id"] for g in api.get(f"/api/v1/contacts/{contact}/groups").json["items"]] == [mine]
    assert api.put(f"/api/v1/contacts/{new_id()}/groups", {"groupIds": [mine]}).status == 404
    assert api.put(f"/api/v1/contacts/{contact}/groups", {"groupIds": "x"}).status == 422
