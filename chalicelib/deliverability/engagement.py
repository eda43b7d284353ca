"""Counting what recipients do with an email, once: one TransactWriteItems per event.

The transaction holds, in this order:
1. the email's emailSent item (chalicelib.contacts.activity): a ConditionCheck that it exists, or an
   update that stamps it (deliveredAt, bouncedAt...) only if not stamped yet;
2. the event's timeline item, put only if absent (the "once" of opens, clicks, replies);
3. ADD 1 to the campaign's counters for the group the contact came through
   (CampaignGroupStats) and to the group's own (GroupEngagement).

So a redelivered notification, a second open or a token of an email that does not exist
(erased contact, another workspace) changes nothing, and counters never move without their
event: no read before, one request in all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.operand import Path
from pynamodb.transactions import TransactWrite

from chalicelib.contacts import activity
from chalicelib.models.activity import Activity
from chalicelib.models.campaigns import CampaignGroupStats
from chalicelib.models.groups import GroupEngagement
from chalicelib.platform import clock
from chalicelib.platform.db import Item, cancellation_reasons, connection

# Counters of CampaignGroupStats this module moves, and those GroupEngagement also keeps.
CAMPAIGN_COUNTERS = frozenset(
    {"delivered", "opened", "clicked", "bounced", "softBounced", "complained", "unsubscribed", "replied"}
)
GROUP_COUNTERS = frozenset({"delivered", "opened", "clicked"})


class Outcome(Enum):
    RECORDED = "recorded"
    ALREADY = "already"  # the event (or stamp) was there: nothing changed
    UNKNOWN_EMAIL = "unknownEmail"  # no such email: nothing changed


@dataclass(frozen=True)
class Email:
    """One email of one enrollment, as a token or a MessageRef names it."""

    workspace_id: str
    contact_id: str
    campaign_id: str
    run: int
    step_id: str
    group_id: str | None

    def key(self) -> tuple[str, str]:
        return (
            Activity.partition(self.workspace_id, self.contact_id),
            activity.email_sk(self.campaign_id, self.run, self.step_id),
        )


def count_once(
    email: Email,
    *,
    event: Activity | None = None,
    stamp: str | None = None,
    counters: Sequence[str] = (),
) -> Outcome:
    """Record `event` (and/or stamp the email's `stamp` attribute) and add 1 to `counters`,
    all or nothing. ALREADY/UNKNOWN_EMAIL change nothing."""
    unknown = set(counters) - CAMPAIGN_COUNTERS
    if unknown:
        raise ValueError(f"not counters: {sorted(unknown)}")
    pk, sk = email.key()
    try:
        with TransactWrite(connection=connection()) as transaction:
            if stamp is not None:
                attribute = getattr(Activity, stamp)
                transaction.update(
                    Activity(pk, sk),
                    actions=[attribute.set(clock.now_iso())],
                    condition=Activity.pk.exists() & attribute.does_not_exist(),
                )
            else:
                transaction.condition_check(Activity, pk, sk, condition=Activity.pk.exists())
            if event is not None:
                transaction.save(event, condition=Activity.pk.does_not_exist())
            if email.group_id and counters:
                _add_counters(transaction, email, counters)
    except TransactWriteError as error:
        reasons = cancellation_reasons(error)
        if not any(reasons):
            raise
        if reasons[0] and stamp is None:
            return Outcome.UNKNOWN_EMAIL
        return Outcome.ALREADY
    return Outcome.RECORDED


def _add_counters(transaction: TransactWrite, email: Email, counters: Sequence[str]) -> None:
    assert email.group_id is not None
    ws, group_id = email.workspace_id, email.group_id
    stats = CampaignGroupStats(*CampaignGroupStats.key(ws, email.campaign_id, group_id))
    # UpdateItem may create the item: it then needs its discriminator and group like any other.
    actions = [Item.type.set(CampaignGroupStats), CampaignGroupStats.groupId.set(group_id)]
    transaction.update(stats, actions=actions + [Path(name).add(1) for name in counters])
    shared = [name for name in counters if name in GROUP_COUNTERS]
    if shared:
        engagement = GroupEngagement(*GroupEngagement.key(ws, group_id))
        transaction.update(
            engagement, actions=[Item.type.set(GroupEngagement)] + [Path(name).add(1) for name in shared]
        )
