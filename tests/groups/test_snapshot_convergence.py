"""A membership's snapshot of its contact converges (issue #18, item 5).

An add reads the contact, then writes the membership with a copy of it. A contact change made
between the two is refreshed onto the contact's memberships by the stream, through the
contact's groups (gsi1): if that refresh runs before the membership is written, it cannot see
it, and the snapshot (and the group's activeContacts) stayed wrong until the daily recount.
Each interleaving is forced here with botocore's `before-call` event of the membership write.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Api
from tests.support.campaigns import make_contacts, new_group, workspace_of
from tests.support.races import WRITES, competitor_before


def member_status(api: Api, group: str) -> list[str]:
    return [m["status"] for m in api.get(f"/api/v1/groups/{group}/members").json["items"]]


def active_and_total(api: Api, group: str) -> tuple[int, int]:
    stats = api.get(f"/api/v1/groups/{group}/stats").json
    return stats["activeContacts"], stats["totalContacts"]


@pytest.mark.parametrize(
    "refreshed_before_the_write",
    [True, False],
    ids=["change-refreshed-before-the-membership-exists", "change-made-before-the-write"],
)
def test_a_status_change_during_an_add_reaches_the_new_membership(
    api: Api, pump, refreshed_before_the_write: bool
) -> None:
    from chalicelib.contacts import status as contacts

    ws = workspace_of(api)
    group = new_group(api, "Customers")
    [contact] = make_contacts(api, 1)
    pump.drain()

    def change() -> None:  # after the add read the contact ACTIVE, before it writes
        contacts.raise_status(ws, contact, "UNSUBSCRIBED", "test")
        if refreshed_before_the_write:
            assert all(call.ok for call in pump.drain())

    with competitor_before(WRITES, f"MEMBER#{contact}", change) as state:
        reply = api.post(f"/api/v1/groups/{group}/members", {"contactIds": [contact]})
    assert state["ran"] and reply.json["added"] == 1
    assert all(call.ok for call in pump.drain())

    assert member_status(api, group) == ["UNSUBSCRIBED"]
    assert active_and_total(api, group) == (0, 1)
    unsubscribed = api.get(f"/api/v1/groups/{group}/members?status=UNSUBSCRIBED").json["items"]
    assert [m["id"] for m in unsubscribed] == [contact]


def test_a_change_after_the_add_is_refreshed_as_before(api: Api, pump) -> None:
    from chalicelib.contacts import status as contacts

    ws = workspace_of(api)
    group = new_group(api, "Customers")
    [contact] = make_contacts(api, 1)
    api.post(f"/api/v1/groups/{group}/members", {"contactIds": [contact]})
    pump.drain()
    contacts.raise_status(ws, contact, "BOUNCED", "test")
    assert all(call.ok for call in pump.drain())
    assert member_status(api, group) == ["BOUNCED"]
    assert active_and_total(api, group) == (0, 1)


def test_a_fresh_membership_costs_one_read_a_stream_batch(api: Api, pump, requests) -> None:
    """The check reads the batch's new memberships' contacts in one BatchGetItem and writes
    nothing when their snapshots are current."""
    from chalicelib.groups import members, memberships
    from chalicelib.platform.streams import Batch, to_change
    from tests.support.events import make_stream_record

    ws = workspace_of(api)
    group = new_group(api, "Customers")
    people = make_contacts(api, 5)
    api.post(f"/api/v1/groups/{group}/members", {"contactIds": people})
    items = members.member_page(ws, group, limit=10).items
    batch = Batch()
    for item in items:
        image: dict[str, Any] = {**item.attribute_values, "type": "Membership"}
        memberships.membership_inserted(to_change(make_stream_record("INSERT", {}, new=image)), batch)
    requests.reset()
    for action in batch.deferred.values():
        action()
    assert requests.snapshot() == {"dynamodb.BatchGetItem": 1}
