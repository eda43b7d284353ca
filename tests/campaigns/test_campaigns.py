"""Campaigns through the API: create, read, list, edit, delete, and the state machine
DRAFT → RUNNING ⇄ PAUSED → COMPLETED, with the errors a client can cause."""

from __future__ import annotations

from tests.support.api import Api
from tests.support.campaigns import (
    SENDER,
    TWO_EMAILS,
    launch,
    new_campaign,
    new_group,
    running_campaign,
    verify_sender,
)


def test_a_campaign_is_created_as_draft_and_read_back(api: Api) -> None:
    # GIVEN
    group = new_group(api, "Leads", "DYNAMIC")
    # WHEN
    created = new_campaign(api, [group], name="Welcome", reenrollment="afterExit")
    # THEN
    assert created["status"] == "DRAFT"
    assert created["fromEmail"] == SENDER
    assert created["includeGroupIds"] == [group]
    assert created["reenrollment"] == "afterExit"
    assert [s["type"] for s in created["steps"]] == ["email", "wait", "email"]
    assert created["steps"][1]["seconds"] == 1
    assert all(step["id"] for step in created["steps"])
    read = api.get(f"/api/v1/campaigns/{created['id']}")
    assert read.status == 200
    assert read.json == created


def test_invalid_campaigns_are_422_with_every_problem_named(api: Api) -> None:
    reply = api.post(
        "/api/v1/campaigns",
        {
            "name": "",
            "fromEmail": "not-an-address",
            "steps": [
                {"type": "email", "subject": "Hi {{nickname}}", "bodyText": "x"},
                {"type": "wait", "minutes": 5, "days": 1},
                {"type": "wait", "days": 400},
                {"type": "sms", "text": "x"},
            ],
            "reenrollment": "always",
        },
    )
    assert reply.status == 422
    assert reply.error_code == "validation_error"
    fields = {detail["field"] for detail in reply.json["error"]["details"]}
    assert {"name", "fromEmail", "reenrollment"} <= fields
    assert {f for f in fields if f.startswith("steps.")} >= {
        "steps.0.email.subject",
        "steps.1.wait",
        "steps.2.wait",
        "steps.3",
    }


def test_groups_must_exist_in_the_workspace(api: Api, new_workspace) -> None:
    other = new_group(new_workspace(name="Other"), "Theirs")
    mine = new_group(api, "Mine")
    reply = api.post(
        "/api/v1/campaigns",
        {"name": "x", "fromEmail": SENDER, "includeGroupIds": [mine, other], "excludeGroupIds": ["nope"]},
    )
    assert reply.status == 422
    details = reply.json["error"]["details"]
    assert {(d["field"], d["groupId"]) for d in details} == {
        ("includeGroupIds.1", other),
        ("excludeGroupIds.0", "nope"),
    }
    assert api.get("/api/v1/campaigns").json["items"] == []


def test_a_group_cannot_be_both_included_and_excluded(api: Api) -> None:
    # GIVEN
    group = new_group(api, "Leads")
    # WHEN
    reply = api.post(
        "/api/v1/campaigns",
        {"name": "x", "fromEmail": SENDER, "includeGroupIds": [group], "excludeGroupIds": [group]},
    )
    # THEN
    assert reply.status == 422


def test_campaigns_of_another_workspace_are_not_found(api: Api, new_workspace) -> None:
    theirs = new_campaign(new_workspace(name="Other"), [])
    for reply in (
        api.get(f"/api/v1/campaigns/{theirs['id']}"),
        api.patch(f"/api/v1/campaigns/{theirs['id']}", {"name": "mine now"}),
        api.delete(f"/api/v1/campaigns/{theirs['id']}"),
        api.post(f"/api/v1/campaigns/{theirs['id']}/launch"),
        api.get(f"/api/v1/campaigns/{theirs['id']}/enrollments"),
        api.get(f"/api/v1/campaigns/{theirs['id']}/overview"),
        api.get("/api/v1/campaigns/not-an-id"),
    ):
        assert (reply.status, reply.error_code) == (404, "not_found")


def test_the_list_is_paginated_and_filtered_by_status(api: Api) -> None:
    verify_sender(api)
    group = new_group(api, "Leads")
    ids = [new_campaign(api, [group], name=f"C{i}")["id"] for i in range(5)]
    launch(api, ids[0])
    seen: list[str] = []
    cursor = None
    while True:
        reply = api.get("/api/v1/campaigns?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert reply.status == 200
        assert len(reply.json["items"]) <= 2
        seen += [item["id"] for item in reply.json["items"]]
        cursor = reply.json["nextCursor"]
        if not cursor:
            break
    assert seen == ids
    running = api.get("/api/v1/campaigns?status=RUNNING").json["items"]
    assert [c["id"] for c in running] == [ids[0]]
    assert api.get("/api/v1/campaigns?cursor=forged").status == 422
    assert api.get("/api/v1/campaigns?limit=501").status == 422


def test_the_state_machine_and_its_409s(api: Api) -> None:
    verify_sender(api)
    campaign = new_campaign(api, [new_group(api, "Leads")])["id"]
    path = f"/api/v1/campaigns/{campaign}"

    def act(action: str) -> tuple[int, str | None]:
        reply = api.post(f"{path}/{action}")
        return reply.status, reply.json.get("status") if reply.status < 300 else reply.error_code

    assert act("pause") == (409, "conflict")
    assert act("resume") == (409, "conflict")
    assert act("launch") == (202, "RUNNING")
    assert act("launch") == (409, "conflict")
    assert act("resume") == (409, "conflict")
    assert act("pause") == (200, "PAUSED")
    assert act("pause") == (409, "conflict")
    assert act("resume") == (200, "RUNNING")
    completed = api.patch(path, {"status": "COMPLETED"})
    assert completed.status == 200
    assert completed.json["status"] == "COMPLETED"
    assert completed.json["completedAt"]
    for action in ("launch", "pause", "resume"):
        assert act(action) == (409, "conflict")
    assert api.patch(path, {"status": "COMPLETED"}).status == 409
    conflict = api.post(f"{path}/launch").json["error"]
    assert conflict["details"][0]["status"] == "COMPLETED"


def test_patch_status_accepts_only_completed(api: Api) -> None:
    campaign = new_campaign(api, [])["id"]
    for status in ("RUNNING", "PAUSED", "DRAFT"):
        reply = api.patch(f"/api/v1/campaigns/{campaign}", {"status": status})
        assert (reply.status, reply.error_code) == (422, "validation_error"), status
    assert api.patch(f"/api/v1/campaigns/{campaign}", {"status": "COMPLETED"}).status == 409  # from DRAFT


def test_launch_needs_a_group_an_email_step_and_a_verified_sender(api: Api) -> None:
    group = new_group(api, "Leads")
    empty = new_campaign(api, [], steps=[{"type": "wait", "days": 1}])["id"]
    reply = api.post(f"/api/v1/campaigns/{empty}/launch")
    assert reply.status == 422
    assert {d["field"] for d in reply.json["error"]["details"]} == {"includeGroupIds", "steps"}
    unverified = new_campaign(api, [group], fromEmail="someone@unverified.example")["id"]
    reply = api.post(f"/api/v1/campaigns/{unverified}/launch")
    assert reply.status == 422
    assert reply.json["error"]["details"][0]["field"] == "fromEmail"
    assert api.get(f"/api/v1/campaigns/{unverified}").json["status"] == "DRAFT"
    verify_sender(api, "unverified.example")  # a verified domain covers its addresses
    assert api.post(f"/api/v1/campaigns/{unverified}/launch").status == 202


def test_what_can_be_edited_depends_on_the_status(api: Api) -> None:
    verify_sender(api)
    group, other = new_group(api, "Leads"), new_group(api, "Other")
    campaign = running_campaign(api, [group])
    path = f"/api/v1/campaigns/{campaign}"
    for body in (
        {"steps": TWO_EMAILS[:1]},
        {"fromEmail": "x@cohort.local"},
        {"includeGroupIds": [other]},
        {"reenrollment": "afterExit"},
    ):
        reply = api.patch(path, body)
        assert (reply.status, reply.error_code) == (409, "conflict"), body
    assert api.patch(path, {"name": "Renamed"}).json["name"] == "Renamed"
    api.post(f"{path}/pause")
    assert api.patch(path, {"steps": TWO_EMAILS[:1]}).status == 200
    assert api.patch(path, {"includeGroupIds": [other]}).status == 409


def test_step_ids_are_kept_when_sent_back(api: Api) -> None:
    created = new_campaign(api, [])
    first, _, last = created["steps"]
    edited = api.patch(
        f"/api/v1/campaigns/{created['id']}",
        {
            "steps": [
                {"type": "wait", "hours": 2},
                first,
                last,
                {"type": "email", "subject": "New", "bodyText": "b"},
            ]
        },
    ).json["steps"]
    assert [s["id"] for s in edited[1:3]] == [first["id"], last["id"]]
    assert edited[0]["id"] not in {first["id"], last["id"]}
    assert edited[3]["id"] not in {first["id"], last["id"]}
    made_up = api.patch(f"/api/v1/campaigns/{created['id']}", {"steps": [{**first, "id": "made-up"}]})
    assert made_up.json["steps"][0]["id"] != "made-up"


def test_null_and_unknown_fields_in_a_patch_are_refused(api: Api) -> None:
    campaign = new_campaign(api, [])["id"]
    assert api.patch(f"/api/v1/campaigns/{campaign}", {"name": None}).status == 422
    assert api.patch(f"/api/v1/campaigns/{campaign}", {"colour": "red"}).status == 422
    assert api.patch(f"/api/v1/campaigns/{campaign}", raw="{").status == 400


def test_running_campaigns_count_on_their_included_groups(api: Api) -> None:
    verify_sender(api)
    included, excluded = new_group(api, "Leads", "DYNAMIC"), new_group(api, "Customers")

    def linked() -> tuple[int, int]:
        return tuple(  # type: ignore[return-value]
            api.get(f"/api/v1/groups/{g}/stats").json["linkedRunningCampaigns"] for g in (included, excluded)
        )

    campaign = new_campaign(api, [included], [excluded])["id"]
    assert linked() == (0, 0)
    launch(api, campaign)
    running_campaign(api, [included])
    assert linked() == (2, 0)
    api.post(f"/api/v1/campaigns/{campaign}/pause")
    assert linked() == (1, 0)
    api.post(f"/api/v1/campaigns/{campaign}/resume")
    assert linked() == (2, 0)
    api.patch(f"/api/v1/campaigns/{campaign}", {"status": "COMPLETED"})
    assert linked() == (1, 0)


def test_only_draft_or_completed_campaigns_can_be_deleted(api: Api, pump) -> None:
    verify_sender(api)
    group = new_group(api, "Leads")
    draft = new_campaign(api, [group])["id"]
    running = running_campaign(api, [group])
    assert api.delete(f"/api/v1/campaigns/{running}").status == 409
    assert api.delete(f"/api/v1/campaigns/{draft}").status == 204
    assert api.get(f"/api/v1/campaigns/{draft}").status == 404
    api.patch(f"/api/v1/campaigns/{running}", {"status": "COMPLETED"})
    assert api.delete(f"/api/v1/campaigns/{running}").status == 204
    assert all(call.ok for call in pump.drain())
    assert [c["id"] for c in api.get("/api/v1/campaigns").json["items"]] == []
    # The group's links went with them: it can be deleted without force.
    assert api.delete(f"/api/v1/groups/{group}").status in (202, 204)


def test_an_idempotency_key_creates_once(api: Api) -> None:
    # GIVEN
    body = {"name": "Once", "fromEmail": SENDER}
    headers = {"Idempotency-Key": "abc"}
    first = api.post("/api/v1/campaigns", body, headers=headers)
    # WHEN
    again = api.post("/api/v1/campaigns", body, headers=headers)
    # THEN
    assert first.status == again.status == 201
    assert first.json["id"] == again.json["id"]
    assert len(api.get("/api/v1/campaigns").json["items"]) == 1
    assert api.post("/api/v1/campaigns", {**body, "name": "Other"}, headers=headers).status == 409


def test_a_deleted_group_leaves_the_campaigns_that_named_it(api: Api) -> None:
    """Forced out from under a RUNNING campaign: the campaign keeps running without it, and
    pausing or resuming it later brings no trace of the group back."""
    from chalicelib.models.campaigns import CampaignLink
    from chalicelib.models.groups import GroupEngagement
    from chalicelib.platform.db import Item
    from tests.support.campaigns import workspace_of

    verify_sender(api)
    kept, doomed, excluded = (new_group(api, name, "DYNAMIC") for name in ("Kept", "Doomed", "VIP"))
    campaign = running_campaign(api, [kept, doomed], [excluded])
    assert api.delete(f"/api/v1/groups/{doomed}?force=true").status == 204
    assert api.delete(f"/api/v1/groups/{excluded}?force=true").status == 204
    read = api.get(f"/api/v1/campaigns/{campaign}").json
    assert (read["status"], read["includeGroupIds"], read["excludeGroupIds"]) == ("RUNNING", [kept], [])
    for action in ("pause", "resume"):
        assert api.post(f"/api/v1/campaigns/{campaign}/{action}").status == 200
    assert [g["groupId"] for g in api.get(f"/api/v1/campaigns/{campaign}/overview").json["groups"]] == [kept]
    ws = workspace_of(api)
    gone = [GroupEngagement.key(ws, g) for g in (doomed, excluded)]
    gone += [CampaignLink.key(ws, g, campaign) for g in (doomed, excluded)]
    assert list(Item.batch_get(gone)) == []
