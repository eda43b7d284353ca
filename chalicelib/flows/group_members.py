"""Adding members to a group by id and by email (POST /groups/{id}/members and its dry run,
members/validate): unknown emails become contacts through the contacts' own sync (plan limit,
erased people, races), invalid ones are reported, never dropped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.contacts import bulk_sync
from chalicelib.contacts.identity import IdentityError, normalise_email
from chalicelib.groups import memberships
from chalicelib.groups import service as groups
from chalicelib.groups.members import contacts_by_id, existing_members, require_contacts
from chalicelib.groups.snapshots import contact_values
from chalicelib.models.contacts import ContactEmail

# Reasons given for emails that cannot join.
NOT_CREATED = "could not be created as a contact"


@dataclass
class AddReport:
    added: int = 0
    already_member: int = 0
    created: int = 0
    invalid: list[dict[str, str]] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "alreadyMember": self.already_member,
            "created": self.created,
            "invalid": self.invalid,
        }


def _contacts_by_email(workspace_id: str, emails: Iterable[str]) -> dict[str, dict[str, Any]]:
    """email -> contact for the emails some contact has (the EMAIL# items are whole copies)."""
    found = ContactEmail.batch_get([ContactEmail.key(workspace_id, email) for email in set(emails)])
    return {item.email: contact_values(item) for item in found if item.email}


def add(
    workspace_id: str,
    group_id: str,
    contact_ids: Sequence[str] = (),
    emails: Sequence[str] = (),
    *,
    dry_run: bool = False,
) -> AddReport:
    """Add contacts by id and by email; unknown emails become contacts, invalid ones are
    reported. Unknown contact ids: 404 before anything is written. `dry_run` reports what
    would happen and writes nothing (members/validate)."""
    group = groups.get(workspace_id, group_id)
    groups.require_manual(group)
    report = AddReport()
    normalised: dict[str, str] = {}  # email -> the value as given (first occurrence)
    for value in emails:
        try:
            normalised.setdefault(normalise_email(value), value)
        except IdentityError as error:
            report.invalid.append({"value": value, "reason": str(error)})
    by_email = _contacts_by_email(workspace_id, normalised) if normalised else {}
    wanted_ids = list(dict.fromkeys(contact_ids))
    contacts = require_contacts(workspace_id, wanted_ids) if wanted_ids else {}
    for contact in by_email.values():
        contacts.setdefault(contact["id"], contact)
    unknown = [email for email in normalised if email not in by_email]
    if unknown:
        contacts.update(_create_contacts(workspace_id, unknown, normalised, report, dry_run=dry_run))
    if dry_run:
        members = existing_members(workspace_id, group.id, contacts)
        report.already_member, report.added = len(members), len(contacts) - len(members)
    else:
        pairs = [(group, contact) for contact in contacts.values()]
        report.added, report.already_member = memberships.add_pairs(workspace_id, pairs)
    return report


def _create_contacts(
    workspace_id: str, emails: list[str], given: Mapping[str, str], report: AddReport, *, dry_run: bool
) -> dict[str, dict[str, Any]]:
    """Create a contact per unknown email (the contacts' own sync: plan limit, erased people,
    races with another writer...); what it refuses is reported, never dropped. `dry_run`:
    the same decisions, nothing written (the would-be contacts are returned by id only)."""
    outcomes = bulk_sync.sync_many(
        workspace_id,
        [{"email": email} for email in emails],
        update_existing=False,
        source="group",
        dry_run=dry_run,
    )
    joined: list[str] = []
    would_be: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        email = emails[outcome.index]
        if outcome.result == "created":
            report.created += 1
            if dry_run and outcome.contact_id:
                would_be[outcome.contact_id] = {"id": outcome.contact_id}
                continue
        # "skipped" with an id: the email's contact appeared meanwhile; it joins all the same.
        if outcome.contact_id and outcome.result != "failed":
            joined.append(outcome.contact_id)
        else:
            report.invalid.append({"value": given[email], "reason": outcome.reason or NOT_CREATED})
    return {**(contacts_by_id(workspace_id, joined) if joined else {}), **would_be}
