"""Scoring rules through the API (API.md "Scoring"): each bad input a 4xx, nothing written."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.scoring import new_rule

TAGGED = {"event": "tagAdded", "tag": "demo"}


def test_a_rule_is_created_read_changed_listed_and_deleted(api: Api) -> None:
    # WHEN a rule is created
    rule = new_rule(api, TAGGED, 25, maxPerContact=3, expiresAfter={"days": 30})
    # THEN it reads back as written
    shown = api.get(f"/api/v1/scoring/rules/{rule}").json
    assert (
        shown["points"],
        shown["when"],
        shown["repeat"],
        shown["maxPerContact"],
        shown["expiresAfter"],
    ) == (
        25,
        TAGGED,
        "everyTime",
        3,
        {"days": 30},
    )
    # WHEN it is changed to `once` (its limit goes with everyTime) and deactivated
    changed = api.patch(f"/api/v1/scoring/rules/{rule}", {"repeat": "once", "active": False})
    assert changed.status == 200, changed.json
    assert (changed.json["repeat"], changed.json["maxPerContact"], changed.json["active"]) == (
        "once",
        None,
        False,
    )
    # THEN the list shows it; WHEN deleted THEN it is gone
    assert [r["id"] for r in api.get("/api/v1/scoring/rules").json["items"]] == [rule]
    assert api.delete(f"/api/v1/scoring/rules/{rule}").status == 204
    assert api.get(f"/api/v1/scoring/rules/{rule}").status == 404


def test_each_bad_rule_is_a_4xx_and_writes_nothing(api: Api, new_workspace) -> None:
    other = new_workspace(name="Other")
    foreign_group = other.post("/api/v1/groups", {"name": "Theirs"}).json["id"]
    base: dict[str, Any] = {"name": "R", "points": 5, "when": TAGGED}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**base, "points": 0}, "points"),
        ({**base, "points": 1001}, "points"),
        ({**base, "points": -1001}, "points"),
        ({**base, "when": {"event": "visited"}}, "when.event"),
        ({**base, "when": {}}, "when"),
        ({**base, "when": {"event": "joinedGroup", "groupId": foreign_group}}, "when.groupId"),
        (
            {**base, "when": {"event": "opened", "campaignId": "01HZZZZZZZZZZZZZZZZZZZZZZZ"}},
            "when.campaignId",
        ),
        ({**base, "when": {"event": "opened", "tag": "x"}}, "when"),
        (
            {**base, "when": {"matches": {"field": "nickname", "op": "eq", "value": "x"}}},
            "when.matches.field",
        ),
        ({**base, "when": {"matches": {"field": "score", "op": "gte", "value": 5}}}, "when.matches"),
        ({**base, "repeat": "once", "maxPerContact": 2}, ""),
        ({**base, "repeat": "sometimes"}, "repeat"),
        ({**base, "expiresAfter": {"days": 0}}, "expiresAfter.days"),
    ]
    for body, path in cases:
        reply = api.post("/api/v1/scoring/rules", body)
        assert 400 <= reply.status < 500, (body, reply.json)
        fields = [d.get("field") or "" for d in reply.json["error"]["details"]]
        assert any(f.startswith(path) for f in fields), (body, reply.json)
    assert api.get("/api/v1/scoring/rules").json["items"] == []


def test_a_bad_change_is_refused_and_leaves_the_rule_as_it_was(api: Api) -> None:
    rule = new_rule(api, TAGGED, 5)
    for patch in ({"points": 0}, {"repeat": "once", "maxPerContact": 2}, {}, {"when": {"event": "nope"}}):
        reply = api.patch(f"/api/v1/scoring/rules/{rule}", patch)
        assert 400 <= reply.status < 500, (patch, reply.json)
    assert api.get(f"/api/v1/scoring/rules/{rule}").json["points"] == 5


def test_another_workspace_cannot_see_or_touch_a_rule(api: Api, new_workspace) -> None:
    rule = new_rule(api, TAGGED)
    other = new_workspace(name="Other")
    assert other.get(f"/api/v1/scoring/rules/{rule}").status == 404
    assert other.patch(f"/api/v1/scoring/rules/{rule}", {"points": 7}).status == 404
    assert other.delete(f"/api/v1/scoring/rules/{rule}").status == 404
    assert other.post("/api/v1/scoring/recompute", {"ruleId": rule}).status == 404
    assert api.get(f"/api/v1/scoring/rules/{rule}").json["points"] == 10
