"""Scoring from the table's stream.

- An event rule scores the events Cohort records as Activity items of the contact: opened,
  clicked, replied, joinedGroup (on the timeline), tagAdded, statusChanged, formSubmitted
  (recorded for scoring, chalicelib.contacts.activity). Each Activity INSERT is one event, its
  sk its identity: the award is keyed by (rule, that sk), so a redelivery awards nothing more.
- A `matches` rule is evaluated, with the segments' evaluator, on each change of a contact,
  beside the rule groups: a contact that starts to match is awarded the rule's points, one
  that stops matching loses them. The change's old and new images say which; only a start or
  a stop writes.

The workspace's rules are one Query a batch, shared by both reactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.platform import clock
from chalicelib.platform.streams import Batch, Change
from chalicelib.scoring import awards
from chalicelib.scoring.rules import Rule, active_rules
from chalicelib.segments.evaluate import Context, matches

# The rule's narrowing key (API.md) -> the event record's attribute.
_NARROWING = {
    "campaignId": "campaignId",
    "groupId": "groupId",
    "formId": "formId",
    "tag": "tag",
    "status": "status",
}
EVENTS = frozenset(
    {"opened", "clicked", "replied", "formSubmitted", "joinedGroup", "tagAdded", "statusChanged"}
)


def fits(rule: Rule, event: Mapping[str, Any]) -> bool:
    """Whether an event record (an Activity's attributes) is one the rule scores."""
    if rule.event is None or rule.event != event.get("kind"):
        return False
    return all(
        event.get(attribute) == rule.when[key] for key, attribute in _NARROWING.items() if key in rule.when
    )


def on_activity(change: Change, batch: Batch) -> None:
    """An event was recorded: the workspace's event rules that fit it award their points."""
    new = change.new
    if change.event_name != "INSERT" or not new or new.get("kind") not in EVENTS:
        return
    ws = str(new["workspaceId"])
    rules = [r for r in active_rules(ws, batch) if fits(r, new)]
    for rule in rules:
        awards.give(ws, str(new["contactId"]), rule, str(new["sk"]), str(new["at"]), batch)


def context() -> Context:
    return Context(now=clock.now(), groups_of=lambda _contact_id: frozenset())


def on_contact(change: Change, batch: Batch) -> None:
    """A contact changed: award or take back the `matches` rules it starts or stops matching."""
    image = change.image
    ws, contact_id = image.get("workspaceId"), image.get("id")
    if not ws or not contact_id or change.event_name == "REMOVE":
        return  # a deleted contact's awards go with its timeline
    held = [r for r in active_rules(str(ws), batch) if r.checked is not None]
    if not held:
        return
    now = context()
    for rule in held:
        assert rule.checked is not None
        before = change.old is not None and matches(rule.checked, change.old, now)
        after = change.new is not None and matches(rule.checked, change.new, now)
        if after and not before:
            at = str((change.new or {}).get("updatedAt") or clock.now_iso())
            awards.give(str(ws), str(contact_id), rule, awards.MATCH, at, batch)
        elif before and not after:
            awards.take_back(str(ws), str(contact_id), rule.id)
