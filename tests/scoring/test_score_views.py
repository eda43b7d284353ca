"""The score where users read contacts: searches by filter, the export; and a matches rule
let go by two changes at once takes its points back once."""

from __future__ import annotations

import csv
import io

from tests.support.api import Api
from tests.support.races import competitor_before
from tests.support.scoring import new_contact, new_rule, score_of, tag
from tests.support.workspaces import workspace_of


def test_a_search_by_score_sees_the_score_as_it_is_now(api: Api, pump) -> None:
    # GIVEN two tagged contacts, one of which scores after its tag links were written
    new_rule(api, {"event": "tagAdded", "tag": "demo"}, 30)
    hot = new_contact(api, "hot@example.com", tags=["lead"])
    new_contact(api, "cold@example.com", tags=["lead"])
    pump.drain()
    tag(api, hot, "demo")
    pump.drain()
    assert score_of(api, hot) == 30
    # WHEN a search asks for tagged leads with a score of 30 or more
    wanted = {
        "all": [{"field": "tags", "op": "has", "value": "lead"}, {"field": "score", "op": "gte", "value": 30}]
    }
    reply = api.post("/api/v1/contacts/search", {"filter": wanted})
    # THEN it finds the one that scored (its tag link's copy of the score is not what is read)
    assert reply.status == 200, reply.json
    assert [c["id"] for c in reply.json["items"]] == [hot]
    assert reply.json["items"][0]["score"] == 30


def test_the_export_has_a_score_column(api: Api, pump) -> None:
    new_rule(api, {"event": "tagAdded"}, 15)
    person = new_contact(api, "ada@example.com", tags=["x"])
    pump.drain()
    assert score_of(api, person) == 15
    reply = api.get("/api/v1/contacts/export")
    assert reply.status == 200
    [row] = list(csv.DictReader(io.StringIO(reply.text.lstrip("\ufeff"))))
    assert row["score"] == "15"


def test_a_matches_rule_let_go_twice_at_once_takes_its_points_back_once(api: Api, pump) -> None:
    from chalicelib.scoring import awards

    # GIVEN a contact holding a matches rule's 25 points
    rule = new_rule(api, {"matches": {"field": "company", "op": "eq", "value": "Acme"}}, 25)
    person = new_contact(api, "ada@example.com", company="Acme")
    pump.drain()
    assert score_of(api, person) == 25
    ws = workspace_of(api)
    # WHEN two deliveries let it go at once (the second between the first's read and write)
    again = lambda: awards.take_back(ws, person, rule)  # noqa: E731
    with competitor_before(["TransactWriteItems"], "REMOVED#", again) as state:
        awards.take_back(ws, person, rule)
    # THEN the points went once
    assert state["ran"] == 1
    assert score_of(api, person) == 0
