"""What campaigns count: per campaign and group (CampaignGroupStats) and per group across
campaigns (GroupEngagement, read by the group stats). Counters only move by UpdateItem ADD,
so writers never read them; the overview reads them all with one Query, never by counting.

Counting is gated by the writes it counts: `enrolled` moves only for enrollments whose
conditional put succeeded, `sent` only when a step's record succeeded. A replay therefore
never counts twice; a crash between the gated write and the counter can leave a counter one
batch short (never over).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.models.campaigns import STATS_PREFIX, Campaign, CampaignGroupStats
from chalicelib.models.groups import Group, GroupEngagement
from chalicelib.models.keys import campaign_partition
from chalicelib.platform.db import Item


def add_enrolled(ws: str, campaign_id: str, group_id: str | None, count: int) -> None:
    """`count` more enrolled through `group_id` (none: enrolled by a bulk action on a filter,
    counted by no group's row)."""
    if count and group_id:
        _update(
            CampaignGroupStats, CampaignGroupStats.key(ws, campaign_id, group_id), _enrolled(group_id, count)
        )


def _enrolled(group_id: str, count: int) -> list[Action]:
    return [CampaignGroupStats.groupId.set(group_id), CampaignGroupStats.enrolled.add(count)]


def note_sent(ws: str, campaign_id: str, group_id: str | None, at: str) -> None:
    """One email went out to a contact enrolled through `group_id`."""
    if not group_id:
        return
    stats = [CampaignGroupStats.groupId.set(group_id), CampaignGroupStats.sent.add(1)]
    _update(CampaignGroupStats, CampaignGroupStats.key(ws, campaign_id, group_id), stats)
    engagement = [GroupEngagement.sent.add(1), GroupEngagement.lastCampaignSentAt.set(at)]
    _update(GroupEngagement, GroupEngagement.key(ws, group_id), engagement)


def running_actions(delta: int) -> list[Action]:
    """GroupEngagement's update when a campaign including the group starts (+1) or stops
    (-1) running; written in the campaign's own transaction (chalicelib/campaigns/service.py)."""
    return _with_type(GroupEngagement, [GroupEngagement.linkedRunningCampaigns.add(delta)])


def _with_type(model: type[Item], actions: Iterable[Action]) -> list[Action]:
    # UpdateItem may create the item: it must then carry its discriminator like any other.
    return [Item.type.set(model), *actions]


def _update(model: type[Item], key: tuple[str, str], actions: Iterable[Action]) -> None:
    model(*key).update(actions=_with_type(model, actions))


# ---- overview ---------------------------------------------------------------------------


def overview(ws: str, campaign: Campaign) -> dict[str, Any]:
    """Totals and per-group figures: one Query (the stats) and one BatchGetItem (the groups'
    names and types), whatever the campaign's size."""
    stats = {
        item.groupId: item
        for item in CampaignGroupStats.query(
            campaign_partition(ws, campaign.id), CampaignGroupStats.sk.startswith(STATS_PREFIX)
        )
    }
    group_ids = list(dict.fromkeys([*campaign.includeGroupIds, *stats]))
    groups = (
        {g.id: g for g in Group.batch_get([Group.key(ws, gid) for gid in group_ids])} if group_ids else {}
    )
    rows = []
    for group_id in group_ids:
        item = stats.get(group_id)
        group = groups.get(group_id)
        rows.append(
            {
                "groupId": group_id,
                "name": group.name if group else None,
                "dynamic": (group.groupType == "DYNAMIC") if group else None,
                "included": group_id in campaign.includeGroupIds,
                "contacts": _n(item, "enrolled"),
                **_rates(_n(item, "sent"), _n(item, "opened"), _n(item, "clicked")),
                **_outcomes({name: _n(item, name) for name in OUTCOMES}, _n(item, "sent")),
            }
        )
    totals = {
        "enrolled": sum(row["contacts"] for row in rows),
        **_rates(*(sum(row[name] for row in rows) for name in ("sent", "opened", "clicked"))),
        **_outcomes(
            {name: sum(row[name] for row in rows) for name in OUTCOMES}, sum(row["sent"] for row in rows)
        ),
    }
    return {"campaignId": campaign.id, "status": campaign.status, "totals": totals, "groups": rows}


def _n(item: CampaignGroupStats | None, name: str) -> int:
    return int(getattr(item, name) or 0) if item is not None else 0


OUTCOMES = ("delivered", "bounced", "softBounced", "complained", "unsubscribed", "replied")


def _outcomes(counts: dict[str, int], sent: int) -> dict[str, Any]:
    """Deliverability counters (chalicelib/deliverability/engagement.py) and their rates per email sent."""
    rates = {f"{name}Rate": round(counts[name] / sent, 4) if sent else 0.0 for name in OUTCOMES}
    return {**counts, **rates}


def _rates(sent: int, opened: int, clicked: int) -> dict[str, Any]:
    return {
        "sent": sent,
        "opened": opened,
        "clicked": clicked,
        "openRate": round(opened / sent, 4) if sent else 0.0,
        "clickRate": round(clicked / sent, 4) if sent else 0.0,
    }
