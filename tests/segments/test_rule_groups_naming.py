"""Rules that name groups (`{"field": "groups", "op": "has", ...}`): a contact joining or
leaving a group re-evaluates the rule groups whose rules name it; a loop of rule groups is
refused (chalicelib/segments/loops.py)."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.groups import member_ids, new_group

VIP = {"field": "tags", "op": "has", "value": "vip"}


def contact(api: Api, email: str, **fields: Any) -> str:
    reply = api.post("/api/v1/contacts", {"email": email, **fields})
    assert reply.status == 201, reply.json
    return str(reply.json["id"])


def rule_group(api: Api, name: str, rules: dict[str, Any]) -> str:
    reply = api.post("/api/v1/groups", {"name": name, "type": "DYNAMIC", "rules": rules})
    assert reply.status == 201, reply.json
    return str(reply.json["id"])


def in_group(group_id: str) -> dict[str, Any]:
    return {"field": "groups", "op": "has", "value": group_id}


def test_joining_a_group_joins_the_rule_groups_that_name_it(api: Api, pump) -> None:
    # GIVEN A (vip) and B (members of A from Paris), and a contact from Paris
    a = rule_group(api, "A", VIP)
    b = rule_group(api, "B", {"all": [in_group(a), {"field": "company", "op": "eq", "value": "Paris Co"}]})
    pump.drain()
    ada = contact(api, "ada@example.com", company="Paris Co")
    pump.drain()
    assert member_ids(api, a) == member_ids(api, b) == []
    # WHEN she is tagged vip
    assert api.patch(f"/api/v1/contacts/{ada}", {"tags": ["vip"]}).status == 200
    assert all(call.ok for call in pump.drain())
    # THEN she joins A, and so B
    assert member_ids(api, a) == member_ids(api, b) == [ada]
    # WHEN the tag is taken off
    assert api.patch(f"/api/v1/contacts/{ada}", {"tags": []}).status == 200
    assert all(call.ok for call in pump.drain())
    # THEN she leaves A, and so B
    assert member_ids(api, a) == member_ids(api, b) == []


def test_a_rule_group_follows_a_group_kept_by_hand_and_is_built_from_its_members(api: Api, pump) -> None:
    # GIVEN a group kept by hand with one member
    hand = new_group(api, "Hand")
    first = contact(api, "first@example.com")
    later = contact(api, "later@example.com")
    assert api.post(f"/api/v1/groups/{hand}/members", {"contactIds": [first]}).status == 200
    pump.drain()
    # WHEN a rule group "not in Hand" is built
    outside = rule_group(api, "Outside", {"not": in_group(hand)})
    assert all(call.ok for call in pump.drain())
    # THEN it holds the other contact
    assert member_ids(api, outside) == [later]
    # WHEN she is added to Hand by hand, and the first one removed
    assert api.post(f"/api/v1/groups/{hand}/members", {"contactIds": [later]}).status == 200
    assert api.post(f"/api/v1/groups/{hand}/members/remove", {"contactIds": [first]}).status == 200
    assert all(call.ok for call in pump.drain())
    # THEN they swap places in the rule group
    assert member_ids(api, outside) == [first]


def test_a_loop_of_rule_groups_is_a_422_naming_it_and_changes_nothing(api: Api, pump) -> None:
    # GIVEN A (vip) and B (members of A)
    a = rule_group(api, "A", VIP)
    b = rule_group(api, "B", in_group(a))
    pump.drain()
    # WHEN A's rules are changed to name B (A → B → A), or A itself
    through_b = api.patch(f"/api/v1/groups/{a}", {"rules": {"any": [VIP, in_group(b)]}})
    itself = api.patch(f"/api/v1/groups/{a}", {"rules": {"all": [VIP, {"not": in_group(a)}]}})
    # THEN each is a 422 at the condition naming the loop's first group, with the loop
    assert (through_b.status, through_b.error_code) == (422, "validation_error"), through_b.json
    [detail] = through_b.json["error"]["details"]
    assert (detail["field"], detail["loop"]) == ("rules.any[1].value", [a, b, a])
    assert f"{a} → {b} → {a}" in detail["message"]
    assert (itself.status, itself.json["error"]["details"][0]["loop"]) == (422, [a, a])
    # AND A's rules are as they were
    assert api.get(f"/api/v1/groups/{a}").json["rules"] == VIP


def test_a_membership_change_of_a_group_no_rules_name_costs_no_read(api: Api, pump, requests) -> None:
    # GIVEN a rule group that names no group, a group by hand and a contact
    rule_group(api, "A", VIP)
    hand = new_group(api, "Hand")
    ada = contact(api, "ada@example.com")
    pump.drain()
    # WHEN she is added to the group by hand
    assert api.post(f"/api/v1/groups/{hand}/members", {"contactIds": [ada]}).status == 200
    requests.reset()
    pump.drain()
    # THEN the stream read the workspace's rule groups (one Query) and no contact for it
    # (the one BatchGetItem is the membership's other reactions'; rule groups read no contact)
    assert requests.of("dynamodb", "GetItem") == 0 and requests.of("dynamodb", "BatchGetItem") == 1


def test_two_changes_at_once_cannot_close_a_loop(api: Api, pump) -> None:
    from tests.support.races import competitor_before

    # GIVEN A and B, rule groups naming no group
    a = rule_group(api, "A", VIP)
    b = rule_group(api, "B", VIP)
    pump.drain()
    replies = []
    # WHEN A's rules are changed to name B, and B's to name A just before A's change is written
    # (each checked the other's rules before the other wrote them)
    with competitor_before(
        ["TransactWriteItems"],
        "gold",
        lambda: replies.append(api.patch(f"/api/v1/groups/{b}", {"rules": in_group(a)})),
    ) as race:
        gold = {"any": [{"field": "tags", "op": "has", "value": "gold"}, in_group(b)]}
        replies.append(api.patch(f"/api/v1/groups/{a}", {"rules": gold}))
    # THEN the second to write is refused (409: B changed meanwhile), so no loop exists
    assert race["ran"]
    assert [r.status for r in replies] == [200, 409], [r.json for r in replies]
    assert api.get(f"/api/v1/groups/{a}").json["rules"] == VIP
    assert api.get(f"/api/v1/groups/{b}").json["rules"] == in_group(a)
