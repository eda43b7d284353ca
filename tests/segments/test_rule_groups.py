"""Rule groups: a group with `rules` whose members Cohort keeps (API.md "Segments"): built
from the existing contacts, then kept current by the stream for a DYNAMIC one, enrolling as
any DYNAMIC join does; refused by hand."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.campaigns import enrollments, running_campaign, sent_emails, verify_sender
from tests.support.groups import member_ids

VIP = {"field": "tags", "op": "has", "value": "vip"}
ONE_EMAIL = [{"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Hello"}]


def contact(api: Api, email: str, **fields: Any) -> str:
    reply = api.post("/api/v1/contacts", {"email": email, **fields})
    assert reply.status == 201, reply.json
    return str(reply.json["id"])


def rule_group(api: Api, rules: dict[str, Any], group_type: str = "DYNAMIC") -> dict[str, Any]:
    reply = api.post("/api/v1/groups", {"name": f"Rules {group_type}", "type": group_type, "rules": rules})
    assert reply.status == 201, reply.json
    return dict(reply.json)


def test_a_rule_group_is_built_from_the_existing_contacts(api: Api, pump) -> None:
    # GIVEN contacts, two of them tagged vip
    vips = [contact(api, f"v{n}@example.com", tags=["vip"]) for n in range(2)]
    contact(api, "other@example.com", tags=["web"])
    pump.drain()
    # WHEN a rule group asks for vip
    created = rule_group(api, VIP)
    # THEN it is BUILDING, then READY with exactly the vips
    assert created["membershipStatus"] == "BUILDING" and created["rules"] == VIP
    assert all(call.ok for call in pump.drain())
    group = api.get(f"/api/v1/groups/{created['id']}").json
    assert group["membershipStatus"] == "READY"
    assert sorted(member_ids(api, created["id"])) == sorted(vips)


def test_a_dynamic_rule_group_follows_each_change_and_enrolls_who_joins(api: Api, pump) -> None:
    # GIVEN a DYNAMIC rule group on a custom field and a tag, with a running campaign on it
    verify_sender(api)
    assert api.post("/api/v1/fields", {"key": "plan", "label": "Plan", "type": "text"}).status == 201
    rules = {"all": [VIP, {"field": "customFields.plan", "op": "eq", "value": "Pro"}]}
    group = rule_group(api, rules)["id"]
    pump.drain()
    campaign = running_campaign(api, [group], steps=ONE_EMAIL)
    ada = contact(api, "ada@example.com", firstName="Ada", customFields={"plan": "pro"})
    pump.drain()
    assert member_ids(api, group) == []
    # WHEN she is tagged vip (the custom field already matches, case-insensitively)
    assert api.patch(f"/api/v1/contacts/{ada}", {"tags": ["vip"]}).status == 200
    assert all(call.ok for call in pump.drain())
    # THEN she joins and gets the campaign's first email, through the group
    assert member_ids(api, group) == [ada]
    [enrollment] = enrollments(api, campaign)
    assert (enrollment["contactId"], enrollment["source"]) == (ada, "dynamicGroup")
    assert [m.subject for m in sent_emails()] == ["Welcome Ada"]
    # WHEN the tag is taken off again
    assert api.patch(f"/api/v1/contacts/{ada}", {"tags": []}).status == 200
    assert all(call.ok for call in pump.drain())
    # THEN she leaves
    assert member_ids(api, group) == []


def test_a_static_rule_group_keeps_who_matched_at_its_creation(api: Api, pump) -> None:
    # GIVEN a vip, and a STATIC rule group built from it
    vip = contact(api, "v@example.com", tags=["vip"])
    group = rule_group(api, VIP, "STATIC")["id"]
    pump.drain()
    # WHEN another contact becomes vip and the first one stops being one
    later = contact(api, "later@example.com", tags=["vip"])
    api.patch(f"/api/v1/contacts/{vip}", {"tags": []})
    pump.drain()
    # THEN the members are still those of the creation
    assert member_ids(api, group) == [vip] and later != vip


def test_members_of_a_rule_group_are_not_changed_by_hand(api: Api, pump) -> None:
    # GIVEN a rule group and a contact
    group = rule_group(api, VIP)["id"]
    person = contact(api, "p@example.com")
    pump.drain()
    # WHEN a client adds, removes or sets its members by hand, or creates a contact in it
    answers = [
        api.post(f"/api/v1/groups/{group}/members", {"contactIds": [person]}),
        api.post(f"/api/v1/groups/{group}/members/remove", {"contactIds": [person]}),
        api.put(f"/api/v1/contacts/{person}/groups", {"groupIds": [group]}),
        api.post("/api/v1/contacts", {"email": "q@example.com", "groupIds": [group]}),
        api.post("/api/v1/forms", {"name": "F", "groupIds": [group]}),
    ]
    # THEN each is a 409 and nothing joined
    assert [(a.status, a.error_code) for a in answers] == [(409, "conflict")] * len(answers)
    pump.drain()
    assert member_ids(api, group) == []


def test_bad_rules_are_a_422_at_their_path_and_make_no_group(api: Api) -> None:
    assert api.post("/api/v1/groups", {"name": "G"}).status == 201
    cases = [
        ({"all": [{"field": "nickname", "op": "eq", "value": "x"}]}, "rules.all[0].field"),
        ({"field": "groups", "op": "has", "value": "01NOSUCHGROUP"}, "rules.value"),
        ({"event": "opened", "withinLast": {"hours": 3}}, "rules.withinLast"),
    ]
    for rules, path in cases:
        reply = api.post("/api/v1/groups", {"name": "Bad", "type": "DYNAMIC", "rules": rules})
        assert (reply.status, reply.error_code) == (422, "validation_error"), reply.json
        assert path in [d["field"] for d in reply.json["error"]["details"]], reply.json
    assert [g["name"] for g in api.get("/api/v1/groups").json["items"]] == ["G"]


def test_new_rules_apply_as_a_diff_and_no_rules_give_the_members_back_to_the_client(api: Api, pump) -> None:
    # GIVEN a DYNAMIC rule group on vip with a running campaign, and contacts vip, web, both
    verify_sender(api)
    vip = contact(api, "vip@example.com", tags=["vip"])
    web = contact(api, "web@example.com", tags=["web"])
    both = contact(api, "both@example.com", tags=["vip", "web"])
    group = rule_group(api, VIP)["id"]
    pump.drain()
    campaign = running_campaign(api, [group], steps=ONE_EMAIL)
    pump.drain()
    assert sorted(member_ids(api, group)) == sorted([vip, both])
    # WHEN its rules become web
    reply = api.patch(f"/api/v1/groups/{group}", {"rules": {"field": "tags", "op": "has", "value": "web"}})
    assert reply.status == 200 and reply.json["membershipStatus"] == "BUILDING", reply.json
    assert all(call.ok for call in pump.drain())
    # THEN vip left, web joined, and both stayed a member: enrolled once, never left and rejoined
    assert api.get(f"/api/v1/groups/{group}").json["membershipStatus"] == "READY"
    assert sorted(member_ids(api, group)) == sorted([web, both])
    enrolled = [e["contactId"] for e in enrollments(api, campaign)]
    assert sorted(enrolled) == sorted([vip, web, both]) and len(enrolled) == 3
    # WHEN the rules are taken off
    reply = api.patch(f"/api/v1/groups/{group}", {"rules": None})
    assert reply.status == 200 and reply.json["rules"] is None and reply.json["membershipStatus"] is None
    # THEN the members stay, changes no longer move them, and the client may add by hand
    api.patch(f"/api/v1/contacts/{web}", {"tags": []})
    pump.drain()
    assert sorted(member_ids(api, group)) == sorted([web, both])
    assert api.post(f"/api/v1/groups/{group}/members", {"contactIds": [vip]}).status == 200


def test_a_campaign_that_stops_when_leaving_stops_whoever_leaves_its_group(api: Api, pump) -> None:
    # GIVEN a DYNAMIC rule group on vip, a campaign of two emails a day apart that stops when
    # leaving, and one that does not
    verify_sender(api)
    group = rule_group(api, VIP)["id"]
    pump.drain()
    steps = [*ONE_EMAIL, {"type": "wait", "days": 1}, *ONE_EMAIL]
    stopping = running_campaign(api, [group], steps=steps, stopWhenLeaving=True)
    staying = running_campaign(api, [group], steps=steps)
    ada = contact(api, "ada@example.com", firstName="Ada", tags=["vip"])
    pump.drain()
    assert api.get(f"/api/v1/campaigns/{stopping}").json["stopWhenLeaving"] is True
    # WHEN she stops matching (and so leaves the group)
    api.patch(f"/api/v1/contacts/{ada}", {"tags": []})
    assert all(call.ok for call in pump.drain())
    # THEN her enrollment through it stops, with why, in that campaign only
    [stopped] = enrollments(api, stopping)
    [going_on] = enrollments(api, staying)
    assert (stopped["status"], stopped["stopReason"]) == ("STOPPED", "leftGroup")
    assert (going_on["status"], going_on["stopReason"]) == ("ACTIVE", None)


def test_an_archived_contact_leaves_its_rule_groups_and_comes_back_when_unarchived(api: Api, pump) -> None:
    # GIVEN a DYNAMIC rule group of vips, built with two of them, one archived before the build
    first, second = (contact(api, f"v{n}@example.com", tags=["vip"]) for n in range(2))
    assert api.post(f"/api/v1/contacts/{second}/archive").status == 200
    pump.drain()
    group = rule_group(api, VIP)["id"]
    assert all(call.ok for call in pump.drain())
    assert member_ids(api, group) == [first]
    # WHEN the member is archived and the other unarchived
    assert api.post(f"/api/v1/contacts/{first}/archive").status == 200
    assert api.post(f"/api/v1/contacts/{second}/unarchive").status == 200
    assert all(call.ok for call in pump.drain())
    # THEN the group follows: the archived one left, the unarchived one joined
    assert member_ids(api, group) == [second]
    assert api.get(f"/api/v1/groups/{group}/stats").json["totalContacts"] == 1
    assert api.get(f"/api/v1/contacts/{first}/groups").json["items"] == []
