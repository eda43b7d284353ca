"""Members whose contact is archived: out of their groups' counts and member lists (the
memberships' snapshot follows the contact through the stream), back when unarchived."""

from __future__ import annotations

from tests.support.api import Api
from tests.support.contacts import make_contacts
from tests.support.groups import add, member_ids, new_group, stats


def counts(api: Api, group: str) -> tuple[int, int, int]:
    found = stats(api, group)
    return found["totalContacts"], found["activeContacts"], found["inactiveContacts"]


def test_an_archived_member_leaves_the_counts_and_lists_and_comes_back(api: Api, pump) -> None:
    # GIVEN a group of four, one of them UNSUBSCRIBED
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 4)
    add(api, group, contacts)
    api.patch(f"/api/v1/contacts/{contacts[3]}", {"status": "UNSUBSCRIBED"})
    assert all(call.ok for call in pump.drain())
    assert counts(api, group) == (4, 3, 1)
    # WHEN an active and an unsubscribed member are archived
    for contact in (contacts[0], contacts[3]):
        assert api.post(f"/api/v1/contacts/{contact}/archive").status == 200
    assert all(call.ok for call in pump.drain())
    # THEN the counts drop by one each, and the member lists skip them
    assert counts(api, group) == (2, 2, 0)
    assert api.get(f"/api/v1/groups/{group}").json["memberCount"] == 2
    assert sorted(member_ids(api, group)) == sorted(contacts[1:3])
    assert sorted(member_ids(api, group, limit="1")) == sorted(contacts[1:3])
    assert member_ids(api, group, status="UNSUBSCRIBED") == []
    listed = api.get(f"/api/v1/contacts?groupId={group}").json["items"]
    assert sorted(item["id"] for item in listed) == sorted(contacts[1:3])
    # AND the contact still has its groups (its history is kept)
    assert [g["id"] for g in api.get(f"/api/v1/contacts/{contacts[0]}/groups").json["items"]] == [group]
    # WHEN they are unarchived, THEN they count again, as they were
    for contact in (contacts[0], contacts[3]):
        assert api.post(f"/api/v1/contacts/{contact}/unarchive").status == 200
    assert all(call.ok for call in pump.drain())
    assert counts(api, group) == (4, 3, 1)
    assert sorted(member_ids(api, group)) == sorted(contacts)


def test_the_recount_agrees_with_counters_that_leave_archived_members_out(api: Api, pump) -> None:
    # GIVEN a group of three, one archived
    group = new_group(api, "Leads")
    contacts = make_contacts(api, 3)
    add(api, group, contacts)
    api.post(f"/api/v1/contacts/{contacts[2]}/archive")
    pump.drain()
    assert counts(api, group) == (2, 2, 0)
    # WHEN the daily recount runs
    assert pump.invoke_schedule("recount_groups").ok
    assert all(call.ok for call in pump.drain())
    # THEN it finds no drift: the counters stay as they are
    assert counts(api, group) == (2, 2, 0)


def test_an_archived_contact_added_to_a_group_is_not_counted(api: Api, pump) -> None:
    # GIVEN an archived contact
    group = new_group(api, "Leads")
    [contact] = make_contacts(api, 1)
    api.post(f"/api/v1/contacts/{contact}/archive")
    # WHEN it is added to a group
    add(api, group, [contact])
    assert all(call.ok for call in pump.drain())
    # THEN it is a member that no count or list shows, until it is unarchived
    assert counts(api, group) == (0, 0, 0)
    assert member_ids(api, group) == []
    api.post(f"/api/v1/contacts/{contact}/unarchive")
    pump.drain()
    assert counts(api, group) == (1, 1, 0)
