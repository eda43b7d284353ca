"""Rule groups kept true as time passes (`withinLast`, `notWithinLast`): each evaluation times
the contact's next crossing; when it comes, the contact is evaluated again and joins or leaves
(chalicelib/segments/recheck.py). All on the injected clock: time moves when the test says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.api import Api
from tests.support.campaigns import enrollments, running_campaign, sent_emails, verify_sender
from tests.support.groups import member_ids
from tests.support.timers import let_time_pass
from tests.support.workspaces import workspace_of

NEW_THIS_DAY = {"field": "createdAt", "op": "withinLast", "value": {"days": 1}}
EMAIL_WAIT_EMAIL = [
    {"type": "email", "subject": "Welcome {{firstName}}", "bodyText": "Hello"},
    {"type": "wait", "days": 3},
    {"type": "email", "subject": "Still there?", "bodyText": "Hello again"},
]


def contact(api: Api, email: str, **fields: Any) -> str:
    reply = api.post("/api/v1/contacts", {"email": email, **fields})
    assert reply.status == 201, reply.json
    return str(reply.json["id"])


def rule_group(api: Api, rules: dict[str, Any], name: str = "Timed") -> str:
    reply = api.post("/api/v1/groups", {"name": name, "type": "DYNAMIC", "rules": rules})
    assert reply.status == 201, reply.json
    return str(reply.json["id"])


def test_a_within_last_rule_drops_a_contact_when_its_time_passes(api: Api, pump, fake_clock) -> None:
    """The E2E of the issue, on the pump (the app's real stream, queue and schedule handlers)
    with the clock injected."""
    # GIVEN a DYNAMIC rule group "created within the last day", and a running campaign on it
    # (an email, a 3-day wait, an email) that stops when its contacts leave the group
    verify_sender(api)
    group = rule_group(api, NEW_THIS_DAY)
    pump.drain()
    campaign = running_campaign(api, [group], steps=EMAIL_WAIT_EMAIL, stopWhenLeaving=True)
    # WHEN a contact is created
    ada = contact(api, "ada@example.com", firstName="Ada")
    assert all(call.ok for call in fake_clock.drain(pump, wait=2))
    # THEN she joins and gets the first email
    assert member_ids(api, group) == [ada]
    assert [m.subject for m in sent_emails()] == ["Welcome Ada"]
    # WHEN most of the day passes, she is still in
    let_time_pass(fake_clock, pump, 23 * 3600)
    assert member_ids(api, group) == [ada]
    # WHEN the day is over
    let_time_pass(fake_clock, pump, 3600 + 60)
    # THEN she has left the group, and her enrollment stopped because she left
    assert member_ids(api, group) == []
    [enrollment] = enrollments(api, campaign)
    assert (enrollment["status"], enrollment["stopReason"]) == ("STOPPED", "leftGroup")


def test_a_date_field_within_the_last_days_joins_then_leaves_after_a_build(
    api: Api, pump, fake_clock
) -> None:
    from chalicelib.platform import clock

    # GIVEN a date custom field, a contact whose last order was yesterday and one whose last
    # order was 5 days ago
    assert (
        api.post("/api/v1/fields", {"key": "lastOrder", "label": "Last order", "type": "date"}).status == 201
    )
    yesterday = (clock.now() - timedelta(days=1)).date()
    buyer = contact(api, "buyer@example.com", customFields={"lastOrder": yesterday.isoformat()})
    contact(
        api, "earlier@example.com", customFields={"lastOrder": (yesterday - timedelta(days=4)).isoformat()}
    )
    pump.drain()
    # WHEN a rule group "ordered within the last 2 days" is built from them
    group = rule_group(api, {"field": "customFields.lastOrder", "op": "withinLast", "value": {"days": 2}})
    assert all(call.ok for call in pump.drain())
    # THEN the recent buyer is in
    assert member_ids(api, group) == [buyer]
    # WHEN time passes to a minute before her order is 2 days old, still in; 2 minutes on, out
    ends = datetime.combine(yesterday, datetime.min.time(), tzinfo=UTC) + timedelta(days=2)
    let_time_pass(fake_clock, pump, (ends - clock.now()).total_seconds() - 60)
    assert member_ids(api, group) == [buyer]
    let_time_pass(fake_clock, pump, 120)
    assert member_ids(api, group) == []
    # WHEN she orders again
    today = clock.now().date().isoformat()
    assert api.patch(f"/api/v1/contacts/{buyer}", {"customFields": {"lastOrder": today}}).status == 200
    assert all(call.ok for call in pump.drain())
    # THEN she is back in
    assert member_ids(api, group) == [buyer]


def test_a_not_within_last_rule_takes_a_contact_in_when_its_time_comes(api: Api, pump, fake_clock) -> None:
    # GIVEN a rule group "created more than 2 days ago", and a contact created now
    group = rule_group(
        api,
        {
            "all": [
                {"not": {"field": "tags", "op": "has", "value": "x"}},
                {"field": "createdAt", "op": "notWithinLast", "value": {"days": 2}},
            ]
        },
    )
    pump.drain()
    ada = contact(api, "ada@example.com")
    pump.drain()
    assert member_ids(api, group) == []
    # WHEN two days and a minute pass
    let_time_pass(fake_clock, pump, 2 * 86400 + 60)
    # THEN she is in, with no change of hers
    assert member_ids(api, group) == [ada]


def test_a_change_that_does_not_move_the_dates_times_nothing_new(
    api: Api, pump, fake_clock, monkeypatch
) -> None:
    from chalicelib.timers import due

    timed: list[str] = []
    schedule = due.schedule

    def spy(items: Any, now: Any = None) -> None:
        items = list(items)
        timed.extend(d.key for d in items)
        schedule(items, now)

    monkeypatch.setattr(due, "schedule", spy)
    # GIVEN a contact in a time-relative rule group: her crossing timed once
    rule_group(api, NEW_THIS_DAY)
    pump.drain()
    ada = contact(api, "ada@example.com")
    pump.drain()
    assert len([key for key in timed if key.startswith("RULES#")]) == 1
    # WHEN she is tagged (her dates do not move, nor does her crossing)
    assert api.patch(f"/api/v1/contacts/{ada}", {"tags": ["x"]}).status == 200
    pump.drain()
    # THEN nothing new is timed
    assert len([key for key in timed if key.startswith("RULES#")]) == 1


def test_a_timer_delivered_twice_or_gone_stale_changes_nothing_more(
    api: Api, pump, fake_clock, requests
) -> None:
    from chalicelib.platform import clock
    from chalicelib.segments import recheck

    # GIVEN a contact in a rule group "created within the last day"
    group = rule_group(api, NEW_THIS_DAY)
    pump.drain()
    ada = contact(api, "ada@example.com")
    pump.drain()
    ws = workspace_of(api)
    message = recheck.due_for(ws, group, ada, clock.now(), clock.now()).message
    # WHEN her timer comes after the day (she leaves), then comes again
    fake_clock.advance(86400 + 60)
    recheck.on_recheck_message(message)
    assert member_ids(api, group) == []
    requests.reset()
    recheck.on_recheck_message(message)
    # THEN the second delivery wrote nothing
    assert requests.of("dynamodb", "DeleteItem") + requests.of("dynamodb", "PutItem") == 0
    # WHEN the rules change to one she matches and the old timer comes again
    assert (
        api.patch(
            f"/api/v1/groups/{group}", {"rules": {"field": "email", "op": "contains", "value": "ada"}}
        ).status
        == 200
    )
    pump.drain()
    assert member_ids(api, group) == [ada]
    recheck.on_recheck_message(message)
    pump.drain()
    # THEN the stale timer evaluates the rules of now: she stays
    assert member_ids(api, group) == [ada]


def test_a_date_near_the_end_of_the_calendar_times_no_crossing_and_breaks_nothing(
    api: Api, pump, fake_clock
) -> None:
    # GIVEN a rule group on a date custom field "within the last 30 days"
    assert api.post("/api/v1/fields", {"key": "renewal", "label": "Renewal", "type": "date"}).status == 201
    group = rule_group(api, {"field": "customFields.renewal", "op": "withinLast", "value": {"days": 30}})
    pump.drain()
    # WHEN a contact's date is the last day a date can hold (its crossing, that day + 30 days,
    # is past the calendar's end)
    far = contact(api, "far@example.com", customFields={"renewal": "9999-12-31"})
    recent = (fake_clock.now() - timedelta(days=5)).date().isoformat()
    near = contact(api, "near@example.com", customFields={"renewal": recent})
    calls = fake_clock.drain(pump, wait=2)
    # THEN every handler succeeds (no stream record fails over and over), and the group holds
    # only the contact whose date is within the last 30 days
    assert [(call.handler, repr(call.error)) for call in calls if not call.ok] == []
    assert member_ids(api, group) == [near]
    assert far not in member_ids(api, group)
