"""A rule group's two writes: a contact joins (a conditional put: a membership INSERT, which
enrolls as any DYNAMIC join) or leaves (a conditional delete: a REMOVE, which stops the
enrollments of campaigns that stop when leaving). Both are idempotent: a second one writes
nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import DeleteError

from chalicelib.groups import memberships
from chalicelib.groups.snapshots import new_membership
from chalicelib.models.groups import Group, Membership
from chalicelib.platform import clock
from chalicelib.platform.db import is_conditional_failure


def join(workspace_id: str, group: Group, contact: Mapping[str, Any]) -> bool:
    """The contact joins (True) unless it is a member already (one conditional put)."""
    item = new_membership(workspace_id, group, contact, clock.now_iso())
    return bool(memberships.put_new_memberships([item]))


def leave(workspace_id: str, group_id: str, contact_id: str) -> bool:
    """The contact leaves (True) unless it is not a member (one conditional delete)."""
    try:
        Membership(*Membership.key(workspace_id, group_id, contact_id)).delete(
            condition=Membership.pk.exists()
        )
    except DeleteError as error:
        if not is_conditional_failure(error):
            raise
        return False
    return True
