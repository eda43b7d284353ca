"""The step runner: each enrollment's next step is one SQS message on the steps queue.

Scheduling: a step due within 15 minutes is a message with DelaySeconds; a later one is a
DueStep item in a minute bucket, which the every-minute schedule (`release_due`) sends when
its minute comes, Querying only the buckets it has not done (no Scan).

Running a step (`StepRunner.run`), for the message (run, step, stepId) of one enrollment:
1. one consistent BatchGetItem reads the enrollment, the campaign and the contact;
2. the message acts only while the enrollment still stands exactly where the message says
   (same run, currentStep and currentStepId, ACTIVE): a duplicate or late message is a no-op;
3. a PAUSED campaign parks the step (ParkedStep) for resume to release; a COMPLETED or
   deleted campaign, or a contact that is no longer sendable, stops the enrollment;
4. wait steps before the next email move the enrollment to that email, scheduled later;
5. an email step is claimed (claimedAt, conditional), sent through SES, the next step is
   scheduled, then the step is recorded (conditional on the claim) and counted.

Delivery is AT MOST ONCE per (enrollment, step). The claim is written before the send; a
message that finds the claim already there (a previous delivery crashed after claiming)
does not send again: it only records the step and moves on. So a crash between sending and
recording never sends twice; a crash between claiming and sending loses that one email. A
send that SES refused (an error answer such as throttling) or that never reached SES
releases the claim and fails the message, which SQS delivers again; a send whose outcome is
unknown (a read timeout, a crash) keeps the claim: it counts as sent. Scheduling the next
step before recording means a crash leaves a duplicate next message at worst, which rule 2
makes harmless, never a stuck enrollment; and a next message delivered before the step is
recorded (no wait between two emails) finds the enrollment behind it and fails, so SQS
delivers it again after the visibility timeout instead of it being dropped.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition

from chalicelib.campaigns import personalisation
from chalicelib.campaigns import stats as campaign_stats
from chalicelib.campaigns import steps as campaign_steps
from chalicelib.deliverability import outgoing
from chalicelib.models.campaigns import (
    Campaign,
    DueCheckpoint,
    DueStep,
    Enrollment,
    ParkedStep,
)
from chalicelib.models.contacts import Contact
from chalicelib.platform import clock, config, ids, mailer, queues
from chalicelib.platform.db import Item, is_conditional_failure
from chalicelib.platform.logs import logger

STEP_KIND = "campaign.step"
SQS_MAX_DELAY = queues.MAX_DELAY_SECONDS
# Due buckets are sharded so a launch scheduling thousands of long waits for the same minute
# spreads its writes over several partitions.
DUE_SHARDS = 8
# How many minute buckets one run of the schedule may catch up on, and how far back a first
# run (no checkpoint yet) looks.
MAX_BUCKETS_PER_RUN = 60
# Steps one run of the schedule sends at most (a page over: pages are DUE_PAGE items), so
# a run stays well inside its Lambda's time; the rest waits for the next minute's run.
MAX_STEPS_PER_RUN = 20_000
DUE_PAGE = 1000
FIRST_RUN_LOOKBACK = timedelta(minutes=30)
DUE_TTL = timedelta(days=7)
SEND_WORKERS = 10
STOP_STATUSES = frozenset({"UNSUBSCRIBED", "BOUNCED", "REPLIED", "BLOCKED"})


# ---- what a step message says -----------------------------------------------------------


@dataclass(frozen=True)
class StepRef:
    """One enrollment at one step: the body of a step message and its idempotency key."""

    ws: str
    campaign_id: str
    contact_id: str
    run: int
    step: int
    step_id: str

    @classmethod
    def start_of(cls, enrollment: Enrollment) -> StepRef:
        return cls(
            ws=enrollment.workspaceId,
            campaign_id=enrollment.campaignId,
            contact_id=enrollment.contactId,
            run=int(enrollment.run),
            step=int(enrollment.currentStep),
            step_id=enrollment.currentStepId,
        )

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> StepRef:
        return cls(
            ws=str(message["ws"]),
            campaign_id=str(message["campaignId"]),
            contact_id=str(message["contactId"]),
            run=int(message["run"]),
            step=int(message["step"]),
            step_id=str(message["stepId"]),
        )

    def message(self) -> dict[str, Any]:
        return {
            "kind": STEP_KIND,
            "ws": self.ws,
            "campaignId": self.campaign_id,
            "contactId": self.contact_id,
            "run": self.run,
            "step": self.step,
            "stepId": self.step_id,
        }

    def at(self, index: int, step_id: str) -> StepRef:
        return replace(self, step=index, step_id=step_id)

    def matches(self, enrollment: Enrollment | None) -> bool:
        return (
            enrollment is not None
            and enrollment.status == "ACTIVE"
            and int(enrollment.run) == self.run
            and int(enrollment.currentStep) == self.step
            and enrollment.currentStepId == self.step_id
        )

    def ahead_of(self, enrollment: Enrollment | None) -> bool:
        """This message is for a later step than the enrollment has recorded yet: the step
        before it scheduled it and is still being recorded (or will be, on its redelivery)."""
        return (
            enrollment is not None
            and enrollment.status == "ACTIVE"
            and int(enrollment.run) == self.run
            and int(enrollment.currentStep) < self.step
        )

    def condition(self) -> Condition:
        """The same test, as a write condition."""
        return (
            (Enrollment.status == "ACTIVE")
            & (Enrollment.run == self.run)
            & (Enrollment.currentStep == self.step)
            & (Enrollment.currentStepId == self.step_id)
        )

    def enrollment(self) -> Enrollment:
        return Enrollment(*Enrollment.key(self.ws, self.campaign_id, self.contact_id))


# ---- scheduling -------------------------------------------------------------------------


def start(enrollments: Iterable[Enrollment]) -> int:
    """Send the first-step message of each enrollment (SendMessageBatch, 10 a call)."""
    return send([(StepRef.start_of(e).message(), 0) for e in enrollments])


def schedule(items: Iterable[tuple[StepRef, int]], now: datetime | None = None) -> None:
    """Each step after `wait` seconds: an SQS delay up to 15 minutes, a due item beyond."""
    moment = now or clock.now()
    soon: list[tuple[dict[str, Any], int]] = []
    later: list[DueStep] = []
    for ref, wait in items:
        if wait <= SQS_MAX_DELAY:
            soon.append((ref.message(), wait))
        else:
            later.append(_due_item(ref, moment + timedelta(seconds=wait)))
    if later:
        with DueStep.batch_write() as batch:
            for item in later:
                batch.save(item)
    send(soon)


def send(messages: list[tuple[dict[str, Any], int]]) -> int:
    """SendMessageBatch with a delay per message, 10 a call, the calls side by side; returns
    the number of calls. (queues.send gives one delay to a whole call and sends one call
    after the other; a launch page sends 10 calls.)"""
    chunks = [messages[i : i + 10] for i in range(0, len(messages), 10)]
    if len(chunks) <= 1:
        for chunk in chunks:
            _send_chunk(chunk)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(SEND_WORKERS, len(chunks))) as pool:
            list(pool.map(_send_chunk, chunks))
    return len(chunks)


def _send_chunk(chunk: list[tuple[dict[str, Any], int]]) -> None:
    entries = [
        {
            "Id": str(i),
            "MessageBody": json.dumps(body, separators=(",", ":")),
            "DelaySeconds": max(0, min(SQS_MAX_DELAY, int(delay))),
        }
        for i, (body, delay) in enumerate(chunk)
    ]
    response = sqs().send_message_batch(QueueUrl=config.steps_queue_url(), Entries=entries)
    if response.get("Failed"):
        raise RuntimeError(f"SQS refused {len(response['Failed'])} step messages: {response['Failed'][0]}")


@lru_cache(maxsize=1)
def sqs() -> Any:
    """The SQS client step messages go through."""
    import boto3

    return boto3.client("sqs")


def _minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def _due_item(ref: StepRef, due: datetime) -> DueStep:
    shard = zlib.crc32(ref.contact_id.encode()) % DUE_SHARDS
    item = DueStep(
        f"DUE#{_minute(due)}#{shard}",
        f"{ref.ws}#{ref.campaign_id}#{ref.contact_id}#{ref.run}#{ref.step_id}",
        body=json.dumps(ref.message(), separators=(",", ":")),
        dueAt=clock.iso(due),
    )
    item.ttl = due + DUE_TTL
    return item


def release_due(now: datetime | None = None, budget: int = MAX_STEPS_PER_RUN) -> int:
    """The every-minute schedule: send the steps of every bucket from the checkpoint up to
    the next minute (those of the next minute with their remaining delay), moving the
    checkpoint after each. Returns the number of steps sent.

    A run sends about `budget` steps at most, a page at a time; a bucket it cannot finish
    (a big launch's long wait: tens of thousands due the same minute) is resumed by the next
    run from where it stopped (`DueCheckpoint.partial`), so no run outlasts its Lambda and
    the buckets behind it are not held up for ever.

    A due item is only written for waits over 15 minutes, so its bucket is always ahead of
    the checkpoint when written. A crash before the checkpoint moves re-sends a page:
    duplicates that the step runner ignores.
    """
    moment = now or clock.now()
    try:
        checkpoint = DueCheckpoint.get(*DueCheckpoint.key(), consistent_read=True)
        done: str | None = checkpoint.minute
        partial = json.loads(checkpoint.partial) if checkpoint.partial else None
    except DoesNotExist:
        done, partial = None, None
    first = (
        datetime.strptime(done, "%Y-%m-%dT%H:%M").replace(tzinfo=moment.tzinfo) + timedelta(minutes=1)
        if done
        else moment.replace(second=0, microsecond=0) - FIRST_RUN_LOOKBACK
    )
    last = (moment + timedelta(minutes=1)).replace(second=0, microsecond=0)
    sent = 0
    bucket = first
    for _ in range(MAX_BUCKETS_PER_RUN):
        if bucket > last:
            break
        minute = _minute(bucket)
        resume = partial if partial and partial.get("minute") == minute else None
        resume_at, count = _release_bucket(minute, moment, resume, budget - sent)
        sent += count
        if resume_at is not None:  # the budget is spent: the next run goes on from there
            _save_checkpoint(done, _minute(bucket - timedelta(minutes=1)), resume_at)
            return sent
        _save_checkpoint(done, minute, None)
        done, partial = minute, None
        bucket += timedelta(minutes=1)
    return sent


def _release_bucket(
    minute: str, now: datetime, resume: dict[str, Any] | None, room: int
) -> tuple[dict[str, Any] | None, int]:
    """Send the bucket's steps, a page at a time, from `resume` on; stops once `room` steps
    were sent. Returns (None, sent) when the bucket is done, else (where to resume, sent)."""
    from chalicelib.platform.paged_query import query_page

    sent = 0
    first_shard = int(resume["shard"]) if resume else 0
    for shard in range(first_shard, DUE_SHARDS):
        key = resume.get("key") if resume and shard == first_shard else None
        while True:
            if sent >= room:
                return {"minute": minute, "shard": shard, "key": key}, sent
            page = query_page(DueStep, f"DUE#{minute}#{shard}", limit=DUE_PAGE, start_key=key)
            messages = []
            for item in page.items:
                due = datetime.fromisoformat(item.dueAt.replace("Z", "+00:00"))
                messages.append((json.loads(item.body), int((due - now).total_seconds())))
            send(messages)
            sent += len(messages)
            key = page.last_key
            if key is None:
                break
    return None, sent


def _save_checkpoint(previous: str | None, minute: str, partial: dict[str, Any] | None) -> None:
    """Move the checkpoint to `minute` (with `partial`: how far into the next bucket), unless
    another run moved it first (both sent the same pages, which only duplicates)."""
    condition = DueCheckpoint.pk.does_not_exist() if previous is None else DueCheckpoint.minute == previous
    progress = json.dumps(partial) if partial else None
    item = DueCheckpoint(*DueCheckpoint.key(), minute=minute, partial=progress)
    try:
        item.save(condition=condition)
    except PutError as error:
        if not is_conditional_failure(error):
            raise


# ---- running a step ---------------------------------------------------------------------


class StepNotReady(Exception):
    """A step message that came before its enrollment reached it: delivered again later."""


SendEmail = Callable[[mailer.Email], str]
Record = Callable[["StepRef", "campaign_steps.Next | None", str], bool]


class StepRunner:
    """Runs step messages. `send_email` and `record` are the seams tests replace (a throttled
    SES, a crash between sending and recording) through `substitute`."""

    def __init__(self) -> None:
        self.send_email: SendEmail = mailer.send
        self.record: Record = record_sent

    def run(self, ref: StepRef) -> None:
        enrollment, campaign, contact = _read(ref)
        if ref.ahead_of(enrollment):
            # Arrived before the previous step was recorded (a step with no wait): fail it, so
            # SQS delivers it again once the enrollment has caught up, instead of dropping it.
            raise StepNotReady(f"step {ref.step} arrived before step {enrollment.currentStep} was recorded")  # type: ignore[union-attr]
        if enrollment is None or not ref.matches(enrollment):
            logger.debug("step message no longer matches its enrollment", extra={"ref": ref.message()})
            return
        if campaign is not None and campaign.status == "PAUSED":
            parked, campaign = _park(ref)
            if parked:
                return
        if campaign is None:
            _end(ref, "STOPPED", "campaignDeleted")
            return
        if campaign.status == "COMPLETED":
            _end(ref, "STOPPED", "campaignCompleted")
            return
        steps = list(campaign.steps)
        here = campaign_steps.position(steps, enrollment.currentStepId, int(enrollment.currentStep))
        upcoming = campaign_steps.next_email(steps, here)
        if upcoming is None:
            _end(ref, "COMPLETED", None)
            return
        if upcoming.index != here:
            _move(ref, upcoming)
            return
        reason = stop_reason(contact)
        if reason or contact is None:
            _end(ref, "STOPPED", reason or "contactDeleted")
            return
        if enrollment.claimedAt is None:
            held = outgoing.hold(ref, contact.email)
            if isinstance(held, str):
                _end(ref, "STOPPED", held)  # suppressed since it was enrolled
                return
            if held:
                schedule([(ref, held)])  # over the sending limits: the same step, later
                return
            if not _claim(ref):
                return  # another delivery of this message claimed it first
            try:
                email = _compose(campaign, upcoming.step, contact)
                outgoing.send(self.send_email, ref, enrollment.viaGroupId, upcoming.step, email)
            except Exception as error:
                if mailer.surely_not_sent(error):
                    _release(ref)
                raise
        else:
            logger.warning(
                "step was claimed by a delivery that crashed: not sending it again", extra=ref.message()
            )
        after = campaign_steps.next_email(steps, here + 1)
        if after is not None:
            schedule([(ref.at(after.index, after.step.id), after.wait)])
        now = clock.now_iso()
        if self.record(ref, after, now):
            campaign_stats.note_sent(ref.ws, ref.campaign_id, enrollment.viaGroupId, now)


def stop_reason(contact: Contact | None) -> str | None:
    """Why a contact cannot receive campaign email (None when it can)."""
    if contact is None:
        return "contactDeleted"
    if contact.anonymizedAt:
        return "anonymized"
    if contact.status in STOP_STATUSES:
        return contact.status.lower()
    if contact.status != "ACTIVE":
        return "inactive"
    if not contact.email:
        return "noEmail"
    return None


def _read(ref: StepRef) -> tuple[Enrollment | None, Campaign | None, Contact | None]:
    keys = [
        Enrollment.key(ref.ws, ref.campaign_id, ref.contact_id),
        Campaign.key(ref.ws, ref.campaign_id),
        Contact.key(ref.ws, ref.contact_id),
    ]
    found = list(Item.batch_get(keys, consistent_read=True))
    return (
        next((i for i in found if isinstance(i, Enrollment)), None),
        next((i for i in found if isinstance(i, Campaign)), None),
        next((i for i in found if isinstance(i, Contact)), None),
    )


def _park(ref: StepRef) -> tuple[bool, Campaign | None]:
    """Park the step while its campaign is PAUSED: (True, _) when it stays parked, else
    (False, the campaign as it is now: resumed, completed or deleted meanwhile).

    Parking writes, then re-reads the campaign; resume writes the status, then reads the
    parked steps. Both reads are strongly consistent, so at least one side sees the other:
    a step is never left parked under a running campaign (at worst released twice).
    """
    parked = ParkedStep(
        *ParkedStep.key(ref.ws, ref.campaign_id, ref.contact_id),
        body=json.dumps(ref.message(), separators=(",", ":")),
        parkId=ids.new_id(),
    )
    parked.save()
    try:
        campaign = Campaign.get(*Campaign.key(ref.ws, ref.campaign_id), consistent_read=True)
    except DoesNotExist:
        campaign = None
    if campaign is not None and campaign.status == "PAUSED":
        return True, campaign
    try:
        parked.delete(condition=ParkedStep.parkId == parked.parkId)  # ours, not a later one
    except DeleteError as error:
        if not is_conditional_failure(error):
            raise
    return False, campaign


def _move(ref: StepRef, upcoming: campaign_steps.Next) -> None:
    """Wait steps lie before the next email: schedule that email, then move the enrollment."""
    due = clock.now() + timedelta(seconds=upcoming.wait)
    schedule([(ref.at(upcoming.index, upcoming.step.id), upcoming.wait)])
    actions = [
        Enrollment.currentStep.set(upcoming.index),
        Enrollment.currentStepId.set(upcoming.step.id),
        Enrollment.nextStepAt.set(clock.iso(due)),
    ]
    _update(ref, actions)


def _claim(ref: StepRef) -> bool:
    return _update(ref, [Enrollment.claimedAt.set(clock.now_iso())], Enrollment.claimedAt.does_not_exist())


def _release(ref: StepRef) -> None:
    _update(ref, [Enrollment.claimedAt.remove()])


def record_sent(ref: StepRef, after: campaign_steps.Next | None, now: str) -> bool:
    """Record the email step of `ref` as sent and point the enrollment at `after` (or mark it
    COMPLETED). False when another delivery recorded it first (do not count it again)."""
    actions = [Enrollment.claimedAt.remove(), Enrollment.emailsSent.add(1), Enrollment.lastSentAt.set(now)]
    if after is None:
        actions += [
            Enrollment.status.set("COMPLETED"),
            Enrollment.endedAt.set(now),
            Enrollment.nextStepAt.remove(),
        ]
    else:
        due = clock.now() + timedelta(seconds=after.wait)
        actions += [
            Enrollment.currentStep.set(after.index),
            Enrollment.currentStepId.set(after.step.id),
            Enrollment.nextStepAt.set(clock.iso(due)),
        ]
    return _update(ref, actions, Enrollment.claimedAt.exists())


def _end(ref: StepRef, status: str, reason: str | None) -> None:
    actions = [
        Enrollment.status.set(status),
        Enrollment.endedAt.set(clock.now_iso()),
        Enrollment.nextStepAt.remove(),
        Enrollment.claimedAt.remove(),
    ]
    if reason:
        actions.append(Enrollment.stopReason.set(reason))
    _update(ref, actions)


def _update(ref: StepRef, actions: list[Any], extra: Condition | None = None) -> bool:
    """A conditional update of the enrollment where `ref` says it stands; False when it
    no longer does (another delivery got there first)."""
    condition = ref.condition() if extra is None else ref.condition() & extra
    try:
        ref.enrollment().update(actions=actions, condition=condition)
    except UpdateError as error:
        if is_conditional_failure(error):
            return False
        raise
    return True


def _compose(campaign: Campaign, step: Any, contact: Contact) -> mailer.Email:
    fields = {
        "firstName": contact.firstName,
        "lastName": contact.lastName,
        "company": contact.company,
        "title": contact.title,
        "email": contact.email,
        "phone": contact.phone,
        "customFields": contact.customFields.as_dict() if contact.customFields else {},
    }
    return mailer.Email(
        sender=campaign.fromEmail,
        to=str(contact.email),
        subject=personalisation.render(step.subject or "", fields, context="header"),
        text=personalisation.render(step.bodyText or "", fields),
        html=personalisation.render(step.bodyHtml, fields, context="html") if step.bodyHtml else None,
    )


RUNNER = StepRunner()


@contextmanager
def substitute(*, send_email: SendEmail | None = None, record: Record | None = None) -> Iterator[StepRunner]:
    """Run steps with another sender or recorder inside the block (tests inject faults)."""
    saved = (RUNNER.send_email, RUNNER.record)
    RUNNER.send_email = send_email or RUNNER.send_email
    RUNNER.record = record or RUNNER.record
    try:
        yield RUNNER
    finally:
        RUNNER.send_email, RUNNER.record = saved


@queues.handles(STEP_KIND)
def on_step_message(message: dict[str, Any]) -> None:
    RUNNER.run(StepRef.from_message(message))
