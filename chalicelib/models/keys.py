"""Key prefixes of the one table, in one place (docs/data-model.md explains the design)."""

from __future__ import annotations


def workspace(ws: str) -> str:
    """Partition of a workspace's own items: contacts, groups, campaigns, lookups..."""
    return f"WS#{ws}"


def group_partition(ws: str, group_id: str) -> str:
    """Partition of a group's members (MEMBER#) and of its campaign links (CAMPAIGN#)."""
    return f"WS#{ws}#GROUP#{group_id}"


def campaign_partition(ws: str, campaign_id: str) -> str:
    """Partition of a campaign's enrollments (ENROLL#)."""
    return f"WS#{ws}#CAMPAIGN#{campaign_id}"


def contact_partition(ws: str, contact_id: str) -> str:
    """gsi1 partition of everything about one contact: its memberships (GROUP#) and
    enrollments (ENROLL#), each one Query with begins_with."""
    return f"WS#{ws}#CONTACT#{contact_id}"
