"""Awards: one rule's points for one event (or for matching), given exactly once.

An award is an Activity item of the contact (sk AWARD#<rule>#<the event's sk>, kind
scoreAwarded, on the timeline), put on the condition that it does not exist, in ONE
TransactWriteItems with `ADD score :points, revision :1` on the Contact (so the score is the
sum of the live awards at every moment, exact however many events come at once) and, for a
rule with a limit (`once`, `maxPerContact`), `ADD awarded :1` on the (contact, rule) counter,
conditioned on staying within the limit. A redelivered event finds its award and writes
nothing; two concurrent events cannot both pass the limit.

An award with `expiresAfter` is timed (chalicelib.timers.due, keyed by the award): its expiry
marks it expired, subtracts its points and puts a scoreExpired entry on the timeline, in one
transaction conditioned on it not being expired yet (a message that comes twice does nothing).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.contacts import activity
from chalicelib.models.activity import Activity
from chalicelib.models.contacts import Contact
from chalicelib.models.scoring import AwardCount
from chalicelib.platform import clock
from chalicelib.platform.db import cancellation_reasons, connection
from chalicelib.platform.logs import logger
from chalicelib.platform.streams import Batch
from chalicelib.scoring.rules import Rule
from chalicelib.timers import due

EXPIRE_KIND = "scoring.expire"
MATCH = "MATCH"  # the event sk of a matches rule's award: one held award per (contact, rule)
PREFIX = "AWARD#"
_TIMERS = "scoring.timers"
_ATTEMPTS = 6  # a TransactionConflict (another transaction on the contact) is tried again

Outcome = Literal["awarded", "duplicate", "limit", "noContact"]


def award_sk(rule_id: str, event_sk: str) -> str:
    return f"{PREFIX}{rule_id}#{event_sk}"


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def give(ws: str, contact_id: str, rule: Rule, event_sk: str, at: str, batch: Batch | None = None) -> Outcome:
    """The rule's points for the event `event_sk` of the contact, happened at `at`: once.

    An award whose expiry is already past (a recompute over old events) is recorded expired
    and counts toward the rule's limit, but moves no score: as if it had been given then."""
    now = clock.now()
    sk = award_sk(rule.id, event_sk)
    expires = _instant(at) + timedelta(days=rule.expires_days) if rule.expires_days else None
    lapsed = expires is not None and expires <= now
    award = activity.item(
        ws,
        contact_id,
        activity.SCORE_AWARDED,
        sk,
        at,
        ruleId=rule.id,
        points=rule.points,
        expiresAt=clock.iso(expires) if expires else None,
        expiredAt=clock.iso(expires) if expires and lapsed else None,
    )
    puts = [award.get_save_kwargs_from_instance(condition=Activity.pk.does_not_exist())]
    updates: list[dict[str, Any]] = []
    if not lapsed:
        updates.append(
            Contact(*Contact.key(ws, contact_id)).get_update_kwargs_from_instance(
                actions=[Contact.score.add(rule.points), Contact.revision.add(1)],
                condition=Contact.pk.exists(),
            )
        )
    if rule.limit is not None:
        updates.append(
            AwardCount(*AwardCount.key(ws, contact_id, rule.id)).get_update_kwargs_from_instance(
                actions=[AwardCount.awarded.add(1)],
                condition=AwardCount.awarded.does_not_exist() | (AwardCount.awarded < rule.limit),
            )
        )
    reasons = _transact(puts=puts, updates=updates)
    if reasons is None:
        if expires and not lapsed:
            _schedule_expiry(ws, contact_id, sk, expires, now, batch)
        return "awarded"
    if reasons[0] == "ConditionalCheckFailed":
        # Given before: a crash may have come between that award and its timer, so the timer
        # is set again (the same key: one timer).
        if expires and not lapsed:
            _schedule_expiry(ws, contact_id, sk, expires, now, batch)
        return "duplicate"
    if not lapsed and reasons[1] == "ConditionalCheckFailed":
        return "noContact"
    return "limit"


def _transact(
    puts: Sequence[dict[str, Any]] = (),
    updates: Sequence[dict[str, Any]] = (),
    deletes: Sequence[dict[str, Any]] = (),
) -> list[str | None] | None:
    """One TransactWriteItems; None when it went through, else the per-item reasons (in the
    order deletes, puts, updates). Retried while DynamoDB reports a TransactionConflict."""
    for attempt in range(_ATTEMPTS):
        try:
            connection().transact_write_items(
                condition_check_items=[],
                delete_items=list(deletes),
                put_items=list(puts),
                update_items=list(updates),
            )
            return None
        except TransactWriteError as error:
            reasons = cancellation_reasons(error)
            if not reasons:
                raise
            if "TransactionConflict" in reasons and attempt + 1 < _ATTEMPTS:
                time.sleep(0.01 * 2**attempt)
                continue
            if "TransactionConflict" in reasons:
                raise
            return reasons
    raise AssertionError("unreachable")


# ---- expiry -------------------------------------------------------------------------------


def _expiry_message(ws: str, contact_id: str, sk: str) -> dict[str, Any]:
    return {"kind": EXPIRE_KIND, "workspaceId": ws, "contactId": contact_id, "sk": sk}


def _schedule_expiry(
    ws: str, contact_id: str, sk: str, expires: datetime, now: datetime, batch: Batch | None = None
) -> None:
    """The award's timer. In a stream batch, the batch's timers are written together at its
    end (BatchWriteItem, 25 a request); a batch that fails comes again and sets them again."""
    timer = due.Due(
        queue=due.JOBS,
        key=f"SCORE#{ws}#{contact_id}#{sk}",
        spread=contact_id,
        message=_expiry_message(ws, contact_id, sk),
        wait=max(0, int((expires - now).total_seconds()) + 1),
    )
    if batch is None:
        due.schedule([timer], now)
        return
    pending: list[due.Due] = batch.data.setdefault(_TIMERS, [])
    pending.append(timer)
    batch.defer(_TIMERS, lambda: due.schedule(pending, now))


def on_expire_message(message: dict[str, Any], attempt: int = 1) -> None:
    """An award's time is up: take its points back, once."""
    ws, contact_id, sk = str(message["workspaceId"]), str(message["contactId"]), str(message["sk"])
    try:
        found = Activity.get(Activity.partition(ws, contact_id), sk, consistent_read=True)
    except DoesNotExist:
        return  # the contact (and its timeline) was deleted or erased
    if found.expiredAt or not found.expiresAt:
        return  # taken back already
    expires = _instant(found.expiresAt)
    now = clock.now()
    if expires > now:  # early (a timer's minute rounds down): wait for the rest
        _schedule_expiry(ws, contact_id, sk, expires, now)
        return
    points = int(found.points or 0)
    ended = activity.item(
        ws,
        contact_id,
        activity.SCORE_EXPIRED,
        f"EXPIRED#{sk[len(PREFIX) :]}",
        found.expiresAt,
        ruleId=found.ruleId,
        points=-points,
    )
    reasons = _transact(
        # The scoreExpired entry is the once-only guard: a second delivery finds it.
        puts=[ended.get_save_kwargs_from_instance(condition=Activity.pk.does_not_exist())],
        updates=[
            found.get_update_kwargs_from_instance(
                actions=[Activity.expiredAt.set(found.expiresAt)],
                condition=Activity.pk.exists(),  # not put back if the timeline was erased
            ),
            Contact(*Contact.key(ws, contact_id)).get_update_kwargs_from_instance(
                actions=[Contact.score.add(-points), Contact.revision.add(1)],
                condition=Contact.pk.exists(),
            ),
        ],
    )
    if reasons is not None:
        logger.info("score award already expired or its contact is gone", extra={"sk": sk})


# ---- a matches rule letting go ------------------------------------------------------------


def take_back(ws: str, contact_id: str, rule_id: str) -> bool:
    """A contact stopped matching a `matches` rule: its held award goes and, unless expired,
    its points with it (a scoreRemoved entry on the timeline). True when it was taken back."""
    sk = award_sk(rule_id, MATCH)
    try:
        found = Activity.get(Activity.partition(ws, contact_id), sk, consistent_read=True)
    except DoesNotExist:
        return False
    return _take_back(ws, contact_id, found)


def withdraw(ws: str, contact_id: str, rule_id: str) -> int:
    """A deleted rule: every award it gave the contact goes, each live one's points with it
    (one Query of the rule's awards, one transaction an award). Returns how many went."""
    found = Activity.query(
        Activity.partition(ws, contact_id),
        Activity.sk.startswith(f"{PREFIX}{rule_id}#"),
        consistent_read=True,
    )
    return sum(_take_back(ws, contact_id, award) for award in found if isinstance(award, Activity))


def _take_back(ws: str, contact_id: str, found: Activity) -> bool:
    rule_id = str(found.ruleId)
    points = int(found.points or 0)
    # Conditioned on what was read: a concurrent expiry or release makes this one a no-op.
    same = Activity.pk.exists() & (
        Activity.expiredAt.exists() if found.expiredAt else Activity.expiredAt.does_not_exist()
    )
    deletes = [found.get_delete_kwargs_from_instance(condition=same)]
    if found.expiredAt:
        return _transact(deletes=deletes) is None
    now = clock.now_iso()
    event = found.sk.removeprefix(f"{PREFIX}{rule_id}#")
    removed = activity.item(
        ws,
        contact_id,
        activity.SCORE_REMOVED,
        # The award's event in the key: a rule's awards withdrawn in one millisecond stay apart.
        f"REMOVED#{rule_id}#{now}" if event == MATCH else f"REMOVED#{rule_id}#{event}#{now}",
        now,
        ruleId=rule_id,
        points=-points,
    )
    reasons = _transact(
        deletes=deletes,
        puts=[removed.get_save_kwargs_from_instance()],
        updates=[
            Contact(*Contact.key(ws, contact_id)).get_update_kwargs_from_instance(
                actions=[Contact.score.add(-points), Contact.revision.add(1)],
                condition=Contact.pk.exists(),
            )
        ],
    )
    return reasons is None
