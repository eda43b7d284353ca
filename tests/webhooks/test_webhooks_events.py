"""Which change of the table is which webhook event (chalicelib.webhooks.events.events_of), and
the signature against the Standard Webhooks specification's published example."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.platform.streams import Change
from chalicelib.webhooks import addresses, delivery
from chalicelib.webhooks.events import events_of


def change(item_type: str, event_name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> Change:
    return Change(event_name, item_type, {}, old, new, "100", "e1")


CONTACT = {"id": "c1", "workspaceId": "w", "email": "a@x.com", "status": "ACTIVE", "revision": Decimal(1)}


@pytest.mark.parametrize(
    ("item", "types"),
    [
        (change("Contact", "INSERT", None, CONTACT), ["contact.created"]),
        (change("Contact", "MODIFY", CONTACT, {**CONTACT, "firstName": "A"}), ["contact.updated"]),
        (
            change("Contact", "MODIFY", CONTACT, {**CONTACT, "status": "UNSUBSCRIBED"}),
            ["contact.updated", "contact.unsubscribed"],
        ),
        (
            change("Contact", "MODIFY", CONTACT, {**CONTACT, "status": "BOUNCED"}),
            ["contact.updated", "contact.bounced"],
        ),
        (change("Contact", "REMOVE", CONTACT, None), ["contact.deleted"]),
        (change("Membership", "INSERT", None, {"groupId": "g", "contactId": "c"}), ["group.member_joined"]),
        (change("Membership", "MODIFY", {"groupId": "g"}, {"groupId": "g", "email": "b"}), []),
        (change("Membership", "REMOVE", {"groupId": "g", "contactId": "c"}, None), ["group.member_left"]),
        (change("Enrollment", "INSERT", None, {"status": "ACTIVE", "run": 1}), ["enrollment.started"]),
        (
            change("Enrollment", "MODIFY", {"status": "COMPLETED", "run": 1}, {"status": "ACTIVE", "run": 2}),
            ["enrollment.started"],
        ),
        (
            change("Enrollment", "MODIFY", {"status": "ACTIVE"}, {"status": "COMPLETED"}),
            ["enrollment.completed"],
        ),
        (change("Enrollment", "MODIFY", {"status": "ACTIVE"}, {"status": "STOPPED"}), ["enrollment.stopped"]),
        (change("Enrollment", "MODIFY", {"currentStep": 0}, {"currentStep": 1, "status": "ACTIVE"}), []),
        (change("Activity", "INSERT", None, {"kind": "emailSent"}), ["email.sent"]),
        (change("Activity", "INSERT", None, {"kind": "opened"}), ["email.opened"]),
        (change("Activity", "INSERT", None, {"kind": "clicked", "url": "https://x"}), ["email.clicked"]),
        (change("Activity", "INSERT", None, {"kind": "replied"}), ["email.replied"]),
        (change("Activity", "INSERT", None, {"kind": "joinedGroup"}), []),
        (change("Activity", "MODIFY", {"kind": "emailSent"}, {"kind": "emailSent", "deliveredAt": "t"}), []),
        (
            change("Import", "MODIFY", {"status": "RUNNING"}, {"status": "COMPLETED", "created": 3}),
            ["import.completed"],
        ),
        (change("Import", "MODIFY", {"status": "RUNNING"}, {"status": "FAILED"}), []),
        (change("Campaign", "MODIFY", {"status": "DRAFT"}, {"status": "RUNNING"}), []),
    ],
)
def test_each_change_is_its_events(item: Change, types: list[str]) -> None:
    assert [event_type for event_type, _ in events_of(item)] == types


def test_event_data_is_plain_json_without_keys() -> None:
    [(_, data)] = events_of(change("Contact", "INSERT", None, {**CONTACT, "pk": "WS#w", "tags": ["a"]}))
    assert data == {"id": "c1", "email": "a@x.com", "status": "ACTIVE", "tags": ["a"]}
    [(_, data)] = events_of(
        change("Import", "MODIFY", {"status": "RUNNING"}, {"status": "COMPLETED", "created": 3})
    )
    assert data == {"status": "COMPLETED", "created": 3}


def test_the_signature_matches_the_specifications_example() -> None:
    """The example of github.com/standard-webhooks/standard-webhooks (spec and libraries' tests)."""
    signature = delivery.sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        datetime.fromtimestamp(1614265330, UTC),
        '{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_urls_are_parsed_strictly() -> None:
    for bad in ("ftp://x.com", "//x.com/a", "http://", "https://user:pw@x.com/", "http://x.com:99999/"):
        with pytest.raises(addresses.RefusedUrl):
            addresses.parse(bad)
    assert addresses.parse("https://x.com:8443/a?b=1").port == 8443
