"""Groups: create, list, read, change, delete; names unique per workspace; tenancy.

Builders: tests/support/groups.py, contacts.py, workspaces.py.
"""

from __future__ import annotations

from tests.support.contacts import make_contacts
from tests.support.groups import add, new_group, run_jobs, seed_members
from tests.support.workspaces import workspace_of

# ---- create, read, list ---------------------------------------------------------------------


def test_a_created_group_reads_back_with_its_fields(api) -> None:
    created = api.post(
        "/api/v1/groups",
        {"name": "LinkedIn Leads Q4", "description": "Q4", "type": "DYNAMIC", "color": "Teal"},
    )
    assert created.status == 201
    group = created.json
    assert group["name"] == "LinkedIn Leads Q4"
    assert (group["type"], group["color"], group["memberCount"]) == ("DYNAMIC", "teal", 0)
    assert api.get(f"/api/v1/groups/{group['id']}").json == group


def test_defaults_and_hex_colors(api) -> None:
    group = api.post("/api/v1/groups", {"name": "Fintech", "color": "#A1B2C3"}).json
    assert (group["type"], group["color"], group["description"]) == ("STATIC", "#a1b2c3", None)


def test_names_are_unique_per_workspace_whatever_the_case(api, new_workspace) -> None:
    # GIVEN
    first = new_group(api, "Customers")
    # WHEN
    clash = api.post("/api/v1/groups", {"name": "  cUSTOMERS "})
    # THEN
    assert clash.status == 409
    assert clash.error_code == "conflict"
    assert clash.json["error"]["details"] == [{"field": "name", "existingGroupId": first}]
    # Another workspace has its own names.
    assert new_workspace(name="Other").post("/api/v1/groups", {"name": "Customers"}).status == 201


def test_bad_fields_are_422_and_create_nothing(api) -> None:
    cases = [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "A", "color": "#abc"},
        {"name": "A", "color": "blurple"},
        {"name": "A", "color": "rgb(1,2,3)"},
        {"name": "A", "type": "SMART"},
        {"name": "A", "extra": 1},
        {},
    ]
    for body in cases:
        reply = api.post("/api/v1/groups", body)
        assert reply.status == 422, body
        assert reply.error_code == "validation_error"
        assert reply.json["error"]["details"], body
    assert api.get("/api/v1/groups").json == {"items": [], "nextCursor": None}


def test_listing_pages_through_groups_with_member_counts(api, pump) -> None:
    ids = [new_group(api, f"Group {i}") for i in range(5)]
    contacts = make_contacts(api, 3)
    add(api, ids[0], contacts)
    pump.drain()
    first = api.get("/api/v1/groups?limit=2")
    assert first.status == 200
    seen = list(first.json["items"])
    cursor = first.json["nextCursor"]
    while cursor:
        page = api.get(f"/api/v1/groups?limit=2&cursor={cursor}").json
        seen.extend(page["items"])
        cursor = page["nextCursor"]
    assert [g["id"] for g in seen] == ids
    assert [g["memberCount"] for g in seen] == [3, 0, 0, 0, 0]


def test_a_forged_cursor_or_limit_out_of_range_is_422(api) -> None:
    new_group(api, "A")
    assert api.get("/api/v1/groups?cursor=abc").status == 422
    assert api.get("/api/v1/groups?limit=501").status == 422
    assert api.get("/api/v1/groups?limit=0").status == 422


def test_the_same_idempotency_key_creates_one_group(api) -> None:
    # GIVEN
    headers = {"Idempotency-Key": "create-leads-1"}
    first = api.post("/api/v1/groups", {"name": "Leads"}, headers=headers)
    # WHEN
    again = api.post("/api/v1/groups", {"name": "Leads"}, headers=headers)
    # THEN
    assert (first.status, again.status) == (201, 201)
    assert first.json == again.json
    assert len(api.get("/api/v1/groups").json["items"]) == 1


# ---- patch ----------------------------------------------------------------------------------


def test_renaming_frees_the_old_name_and_takes_the_new_one(api) -> None:
    group = new_group(api, "Prospects")
    other = new_group(api, "Customers")
    renamed = api.patch(f"/api/v1/groups/{group}", {"name": "Qualified prospects"})
    assert renamed.status == 200
    assert renamed.json["name"] == "Qualified prospects"
    assert api.post("/api/v1/groups", {"name": "prospects"}).status == 201
    clash = api.patch(f"/api/v1/groups/{group}", {"name": "CUSTOMERS"})
    assert clash.status == 409
    assert clash.json["error"]["details"] == [{"field": "name", "existingGroupId": other}]
    assert api.get(f"/api/v1/groups/{group}").json["name"] == "Qualified prospects"


def test_a_case_only_rename_keeps_the_name_and_changes_its_spelling(api) -> None:
    group = new_group(api, "fintech")
    assert api.patch(f"/api/v1/groups/{group}", {"name": "Fintech"}).json["name"] == "Fintech"
    assert api.post("/api/v1/groups", {"name": "FINTECH"}).status == 409


def test_patch_changes_type_and_clears_color_and_description(api) -> None:
    # GIVEN
    group = new_group(api, "Inbound", description="web", color="navy")
    # WHEN
    changed = api.patch(f"/api/v1/groups/{group}", {"type": "DYNAMIC", "color": None, "description": None})
    # THEN
    assert changed.status == 200
    assert (changed.json["type"], changed.json["color"], changed.json["description"]) == (
        "DYNAMIC",
        None,
        None,
    )
    assert changed.json["name"] == "Inbound"


def test_bad_patches_are_422(api) -> None:
    group = new_group(api, "Inbound")
    for body in ({}, {"name": ""}, {"name": None}, {"type": None}, {"color": "#12345g"}, {"id": "x"}):
        reply = api.patch(f"/api/v1/groups/{group}", body)
        assert reply.status == 422, body


# ---- tenancy ----------------------------------------------------------------------------------


def test_another_workspaces_group_is_404_everywhere(api, new_workspace) -> None:
    theirs = new_group(new_workspace(name="Other"), "Theirs")
    contact = make_contacts(api, 1)[0]
    for method, path, body in [
        ("GET", f"/api/v1/groups/{theirs}", None),
        ("PATCH", f"/api/v1/groups/{theirs}", {"name": "Mine"}),
        ("DELETE", f"/api/v1/groups/{theirs}", None),
        ("GET", f"/api/v1/groups/{theirs}/members", None),
        ("GET", f"/api/v1/groups/{theirs}/stats", None),
        ("GET", f"/api/v1/groups/{theirs}/export", None),
        ("POST", f"/api/v1/groups/{theirs}/members", {"contactIds": [contact]}),
        ("POST", f"/api/v1/groups/{theirs}/members/validate", {"emails": ["a@example.com"]}),
        ("POST", f"/api/v1/groups/{theirs}/members/remove", {"contactIds": [contact]}),
        ("DELETE", f"/api/v1/groups/{theirs}/members/{contact}", None),
        ("POST", f"/api/v1/groups/{theirs}/actions", {"action": "applyTags", "tags": ["x"]}),
        ("GET", "/api/v1/groups/not-an-id", None),
    ]:
        reply = api.call(method, path, body)
        assert (reply.status, reply.error_code) == (404, "not_found"), (method, path, reply.json)


# ---- delete -----------------------------------------------------------------------------------


def test_deleting_a_group_keeps_its_contacts_and_frees_its_name(api, pump) -> None:
    group = new_group(api, "Trade show")
    contacts = make_contacts(api, 3)
    add(api, group, contacts)
    pump.drain()
    assert api.delete(f"/api/v1/groups/{group}").status == 204
    assert api.get(f"/api/v1/groups/{group}").status == 404
    assert api.get(f"/api/v1/groups/{group}/stats").status == 404
    for contact in contacts:
        assert api.get(f"/api/v1/contacts/{contact}").status == 200
        assert api.get(f"/api/v1/contacts/{contact}/groups").json["items"] == []
    assert api.post("/api/v1/groups", {"name": "trade show"}).status == 201
    assert all(call.ok for call in pump.drain())


def test_a_group_a_running_campaign_uses_needs_force_to_go(api) -> None:
    from chalicelib.models.campaigns import CampaignLink

    # GIVEN
    group = new_group(api, "Nurture", "DYNAMIC")
    ws = workspace_of(api)
    CampaignLink(
        *CampaignLink.key(ws, group, "01CAMPAIGN0000000000000000"),
        campaignId="01CAMPAIGN0000000000000000",
        role="include",
        status="RUNNING",
    ).save()
    # WHEN
    refused = api.delete(f"/api/v1/groups/{group}")
    # THEN
    assert (refused.status, refused.error_code) == (409, "conflict")
    assert refused.json["error"]["details"][0]["runningCampaignIds"] == ["01CAMPAIGN0000000000000000"]
    assert api.get(f"/api/v1/groups/{group}").status == 200
    assert api.delete(f"/api/v1/groups/{group}?force=true").status == 204
    assert api.get(f"/api/v1/groups/{group}").status == 404


def test_a_paused_campaign_does_not_block_a_delete(api) -> None:
    from chalicelib.models.campaigns import CampaignLink

    # GIVEN
    group = new_group(api, "Nurture")
    ws = workspace_of(api)
    CampaignLink(
        *CampaignLink.key(ws, group, "01CAMPAIGN0000000000000001"),
        campaignId="01CAMPAIGN0000000000000001",
        role="include",
        status="PAUSED",
    ).save()
    # WHEN / THEN
    assert api.delete(f"/api/v1/groups/{group}").status == 204


def test_a_big_groups_memberships_are_removed_by_a_job(api, pump) -> None:
    from chalicelib.flows.groups import INLINE_DELETE_MEMBERS
    from chalicelib.platform.ids import new_id

    group = new_group(api, "Big")
    # Members as an add writes them (the contacts themselves play no part here).
    contacts = [{"id": new_id(), "email": f"m{i}@example.com"} for i in range(INLINE_DELETE_MEMBERS + 20)]
    seed_members(api, group, contacts)
    reply = api.delete(f"/api/v1/groups/{group}")
    assert reply.status == 202
    job_id = reply.json["jobId"]
    assert api.get(f"/api/v1/groups/{group}").status == 404
    assert all(call.ok for call in run_jobs(pump))
    job = api.get(f"/api/v1/jobs/{job_id}").json
    assert (job["status"], job["processed"], job["kind"]) == ("COMPLETED", 20, "memberCleanup")
    # No membership is left: the group's member list is an unknown group's.
    assert api.get(f"/api/v1/groups/{group}/members").status == 404
