"""A lead joining its form's groups: after a post, or after it confirms a double opt-in."""

from __future__ import annotations

from chalicelib.groups import memberships
from chalicelib.groups import service as groups
from chalicelib.models.contacts import ContactData
from chalicelib.models.forms import Form
from chalicelib.platform.logs import logger


def join_groups(form: Form, contact: ContactData) -> None:
    """Add the contact to the form's groups that still exist (a group deleted after the form
    was set up is skipped and logged, not a failure of the visitor's post). Joining a group
    it is already in writes nothing; joining a dynamic group enrolls it (the stream)."""
    wanted = list(form.groupIds or [])
    if not wanted:
        return
    found = groups.get_many(form.workspaceId, wanted)
    missing = [gid for gid in wanted if gid not in found]
    if missing:
        logger.warning("form names deleted groups", extra={"form_id": form.id, "group_ids": missing})
    memberships.join(form.workspaceId, contact, [found[gid] for gid in wanted if gid in found])
