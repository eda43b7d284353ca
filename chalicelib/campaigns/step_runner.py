"""The step runner: runs each step message of the steps queue for its enrollment.

Running a step (`StepRunner.run`), for the message (run, step, stepId) of one enrollment:
1. one consistent BatchGetItem reads the enrollment, the campaign, the contact and the
   workspace (its requireConsent: consent required since the enrollment began stops it);
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition

from chalicelib.campaigns import eligibility
from chalicelib.campaigns import stats as campaign_stats
from chalicelib.campaigns import steps as campaign_steps
from chalicelib.campaigns.compose import compose
from chalicelib.campaigns.due_steps import schedule
from chalicelib.campaigns.eligibility import Ineligible
from chalicelib.campaigns.step_messages import StepRef
from chalicelib.deliverability import outgoing
from chalicelib.models.campaigns import Campaign, Enrollment, ParkedStep
from chalicelib.models.contacts import Contact
from chalicelib.models.workspaces import Workspace
from chalicelib.platform import clock, ids, mailer
from chalicelib.platform.db import Item, is_conditional_failure
from chalicelib.platform.logs import logger


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
        enrollment, campaign, contact, require_consent = _read(ref)
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
        reason = stop_reason(contact, require_consent=require_consent)
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
                email = compose(campaign, upcoming.step, contact)
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


def stop_reason(contact: Contact | None, *, require_consent: bool = False) -> str | None:
    """Why a contact cannot receive campaign email (None when it can)."""
    values = None if contact is None else contact.attribute_values
    return eligibility.reason(values, missing=Ineligible.CONTACT_DELETED, require_consent=require_consent)


def _read(ref: StepRef) -> tuple[Enrollment | None, Campaign | None, Contact | None, bool]:
    """The enrollment, campaign and contact, and whether the workspace requires consent now
    (the same request: a workspace item is well under 4 KB, one more read unit)."""
    keys = [
        Enrollment.key(ref.ws, ref.campaign_id, ref.contact_id),
        Campaign.key(ref.ws, ref.campaign_id),
        Contact.key(ref.ws, ref.contact_id),
        Workspace.key(ref.ws),
    ]
    found = list(Item.batch_get(keys, consistent_read=True))
    return (
        next((i for i in found if isinstance(i, Enrollment)), None),
        next((i for i in found if isinstance(i, Campaign)), None),
        next((i for i in found if isinstance(i, Contact)), None),
        any(isinstance(i, Workspace) and bool(i.requireConsent) for i in found),
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


def on_step_message(message: dict[str, Any], attempt: int = 1) -> None:
    RUNNER.run(StepRef.from_message(message))
