"""Two adds of one contact to a group at once: exactly one says `added`, the other
`alreadyMember`, and the group counts the member once.

Both adds read the membership absent; the competitor's whole add runs inside botocore's
`before-call` event of our add's membership write (whatever request writes it), so only a
condition on that write can tell the second add that the contact joined meanwhile.
"""

from __future__ import annotations

from typing import Any

from tests.support.api import Api
from tests.support.campaigns import make_contacts, new_group
from tests.support.races import WRITES, competitor_before


def add(api: Api, group: str, contact_ids: list[str]) -> dict[str, Any]:
    reply = api.post(f"/api/v1/groups/{group}/members", {"contactIds": contact_ids})
    assert reply.status == 200, reply.json
    return dict(reply.json)


def totals(api: Api, group: str) -> tuple[int, int]:
    stats = api.get(f"/api/v1/groups/{group}/stats").json
    return stats["totalContacts"], stats["activeContacts"]


def test_two_adds_of_one_contact_at_once_add_it_once(api: Api, pump) -> None:
    group = new_group(api, "Customers")
    [contact] = make_contacts(api, 1)
    replies: list[dict[str, Any]] = []

    def competitor() -> None:
        replies.append(add(api, group, [contact]))

    with competitor_before(WRITES, f"MEMBER#{contact}", competitor) as state:
        replies.append(add(api, group, [contact]))
    assert state["ran"]

    assert [(r["added"], r["alreadyMember"]) for r in replies] == [(1, 0), (0, 1)]
    assert all(call.ok for call in pump.drain())
    assert totals(api, group) == (1, 1)
    members = api.get(f"/api/v1/groups/{group}/members").json["items"]
    assert [m["id"] for m in members] == [contact]


def test_two_overlapping_adds_at_once_count_each_member_once(api: Api, pump) -> None:
    group = new_group(api, "Customers")
    first, shared, last = make_contacts(api, 3)
    replies: list[dict[str, Any]] = []

    def competitor() -> None:
        replies.append(add(api, group, [shared, last]))

    with competitor_before(WRITES, f"MEMBER#{shared}", competitor) as state:
        replies.append(add(api, group, [first, shared]))
    assert state["ran"]

    competing, ours = replies
    assert (competing["added"], competing["alreadyMember"]) == (2, 0)
    assert (ours["added"], ours["alreadyMember"]) == (1, 1)
    assert all(call.ok for call in pump.drain())
    assert totals(api, group) == (3, 3)


def test_a_join_racing_an_add_writes_the_membership_once(api: Api, pump) -> None:
    """memberships.join (a contact created or updated with groupIds) against an add."""
    from chalicelib.contacts import service as contacts
    from chalicelib.groups import memberships
    from chalicelib.groups import service as groups
    from tests.support.campaigns import workspace_of

    ws = workspace_of(api)
    group = new_group(api, "Customers")
    [contact] = make_contacts(api, 1)
    replies: list[dict[str, Any]] = []

    with competitor_before(WRITES, f"MEMBER#{contact}", lambda: replies.append(add(api, group, [contact]))):
        joined = memberships.join(ws, contacts.get(ws, contact), [groups.get(ws, group)])
    assert (joined, replies[0]["added"]) == (0, 1)
    assert all(call.ok for call in pump.drain())
    assert totals(api, group) == (1, 1)
