"""Recompute: a rule (or all the active ones) applied to what already is, as if it had existed
all along (POST /api/v1/scoring/recompute, 202 {"jobId"}).

A resumable job over the workspace's contacts, a page a message on the jobs queue (the Job
item records each page done with the condition `page = <its number>`, so a message that comes
twice records nothing twice):

- a `matches` rule: each contact evaluated now; matching and not holding its award, awarded;
  holding it and not matching, taken back;
- an event rule: each contact's recorded events (its Activity partition, one Query), oldest
  first, awarded through the very keys the stream uses, so a recompute and the stream never
  award one event twice, and `once`/`maxPerContact` keep the first events as they would have.

Awards already given keep their points (a rule whose points change scores the new events and
the missing awards with its new points).

The same pages withdraw a deleted rule (`delete_rule`, DELETE /scoring/rules/{id}):
each contact's awards of that rule are taken back, with their points.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.models.activity import Activity
from chalicelib.models.contacts import Contact
from chalicelib.models.jobs import Job
from chalicelib.platform import clock, config, ids, queues
from chalicelib.platform.db import Item, is_conditional_failure
from chalicelib.platform.logs import logger
from chalicelib.scoring import awards, rules
from chalicelib.scoring.events import EVENTS, context, fits
from chalicelib.scoring.rules import Rule
from chalicelib.segments.evaluate import matches

RECOMPUTE_KIND = "scoring.recompute"
PAGE = 25  # contacts a message: an event rule reads each one's events (one Query a contact)
JOB_TTL = timedelta(days=30)
# Longer than a stream batch can run (the functions' timeout, 30 s in .chalice/config.json).
WITHDRAW_DELAY = 60


def start(workspace_id: str, rule_id: str | None) -> dict[str, str]:
    """The job, started; 404 for a rule that is not the workspace's."""
    if rule_id is not None:
        rules.get(workspace_id, rule_id)
    return {"jobId": _start(workspace_id, {"ruleId": rule_id} if rule_id else {})}


def delete_rule(workspace_id: str, rule_id: str) -> None:
    """DELETE /scoring/rules/{id}: the rule goes (404 when it is not the workspace's), then a
    job of the same pages takes its awards back from every contact. Its first page waits
    WITHDRAW_DELAY: a stream batch that read the rules before the deletion may still award
    by it, and it ends within its Lambda's timeout."""
    rules.delete(workspace_id, rule_id)
    _start(workspace_id, {"ruleId": rule_id, "withdraw": True}, delay=WITHDRAW_DELAY)


def _start(workspace_id: str, params: dict[str, Any], delay: int = 0) -> str:
    now = clock.now()
    job_id = ids.new_id()
    Job(
        *Job.key(workspace_id, job_id),
        id=job_id,
        workspaceId=workspace_id,
        kind=RECOMPUTE_KIND,
        groupId="",
        params=params,
        status="RUNNING",
        createdAt=clock.iso(now),
        updatedAt=clock.iso(now),
        ttl=now + JOB_TTL,
    ).save(condition=Job.pk.does_not_exist())
    _send(workspace_id, job_id, 0, delay)
    return job_id


def _send(workspace_id: str, job_id: str, page: int, delay: int = 0) -> None:
    message = {"kind": RECOMPUTE_KIND, "workspaceId": workspace_id, "jobId": job_id, "page": page}
    queues.send(config.jobs_queue_url(), [message], delay_seconds=delay)


def _params(job: Job) -> dict[str, Any]:
    return job.params.as_dict() if hasattr(job.params, "as_dict") else dict(job.params or {})


def _rules(workspace_id: str, params: dict[str, Any]) -> list[Rule]:
    rule_id = params.get("ruleId")
    if not rule_id:
        return rules.active_rules(workspace_id)
    try:
        return [rules.rule(workspace_id, str(rule_id))]
    except Exception:  # deleted meanwhile: nothing to apply
        return []


def _per_contact(ws: str, params: dict[str, Any]) -> Callable[[Contact], object]:
    """What the job does to each contact: withdraw a deleted rule's awards, or apply rules."""
    if params.get("withdraw"):
        rule_id = str(params["ruleId"])
        return lambda contact: awards.withdraw(ws, contact.id, rule_id)
    applied = _rules(ws, params)
    return lambda contact: apply(ws, contact, applied)


def on_message(message: dict[str, Any], attempt: int = 1) -> None:
    """One page of contacts; the next page's message once this one is recorded."""
    ws, job_id, page = str(message["workspaceId"]), str(message["jobId"]), int(message["page"])
    try:
        job = Job.get(*Job.key(ws, job_id), consistent_read=True)
    except DoesNotExist:
        return
    if job.status == "COMPLETED" or int(job.page or 0) > page + 1:
        return
    if int(job.page or 0) == page + 1:  # recorded, but its next message may not have gone
        if job.status != "COMPLETED":
            _send(ws, job_id, page + 1)
        return
    each = _per_contact(ws, _params(job))
    result = Item._get_connection().query(
        job.pk,
        range_key_condition=Contact.sk.startswith("CONTACT#"),
        limit=PAGE,
        exclusive_start_key=json.loads(job.cursor) if job.cursor else None,
    )
    found = [Item.from_raw_data(raw) for raw in result.get("Items", [])]
    contacts = [c for c in found if isinstance(c, Contact)]
    for contact in contacts:
        each(contact)
    last = result.get("LastEvaluatedKey")
    now = clock.now_iso()
    actions: list[Action] = [
        Job.page.set(page + 1),
        Job.processed.add(len(contacts)),
        Job.updatedAt.set(now),
        Job.cursor.set(json.dumps(last)) if last else Job.cursor.remove(),
    ]
    if not last:
        actions += [Job.status.set("COMPLETED"), Job.finishedAt.set(now)]
    try:
        job.update(actions=actions, condition=Job.page == page)
    except UpdateError as error:
        if is_conditional_failure(error):
            return  # another delivery of this page recorded it
        raise
    if last:
        _send(ws, job_id, page + 1)
    else:
        logger.info("scoring recompute done", extra={"job_id": job_id})


def apply(ws: str, contact: Contact, applied: list[Rule]) -> None:
    """The rules, applied to one contact as it is and to its past events."""
    held = [r for r in applied if r.checked is not None]
    by_event = [r for r in applied if r.event is not None]
    if held:
        now = context()
        for rule in held:
            assert rule.checked is not None
            if matches(rule.checked, contact.attribute_values, now):
                awards.give(ws, contact.id, rule, awards.MATCH, contact.updatedAt)
            else:
                awards.take_back(ws, contact.id, rule.id)
    if not by_event:
        return
    events = [
        e
        for e in Activity.query(Activity.partition(ws, contact.id))
        if isinstance(e, Activity) and e.kind in EVENTS
    ]
    events.sort(key=lambda e: (e.at, e.sk))
    for event in events:
        values = {**event.attribute_values, "sk": event.sk}
        for rule in by_event:
            if fits(rule, values):
                awards.give(ws, contact.id, rule, event.sk, event.at)
