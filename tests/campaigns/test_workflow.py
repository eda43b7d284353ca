"""The step runner: emails through SES, waits (SQS delays and due items), pause and resume,
and the faults: duplicated messages, throttling, a crash between sending and recording."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib.contacts import status as contact_status
from tests.support.api import Api
from tests.support.campaigns import (
    ThrottlingSes,
    add_members,
    enrollments,
    make_contacts,
    new_group,
    running_campaign,
    sent_emails,
    verify_sender,
)
from tests.support.events import LambdaContext

Started = tuple[str, list[str]]
QUICK = [
    {"type": "email", "subject": "One", "bodyText": "first"},
    {"type": "wait", "seconds": 1},
    {"type": "email", "subject": "Two", "bodyText": "second"},
]

# Every test here runs on the fake clock: an SQS delay (a short wait) comes due when the test
# moves the clock (`fake_clock.drain(pump, wait=...)`), never while a slow machine works.
pytestmark = pytest.mark.usefixtures("fake_clock")


@pytest.fixture(autouse=True)
def _sender(api: Api) -> None:
    verify_sender(api)


def start(
    api: Api, pump: Any, steps: list[dict[str, Any]], members: int = 1, **fields: Any
) -> tuple[str, list[str]]:
    """A RUNNING campaign on a dynamic group, then `members` contacts join it."""
    leads = new_group(api, "Leads", "DYNAMIC")
    campaign = running_campaign(api, [leads], steps=steps, **fields)
    pump.drain()
    contacts = make_contacts(api, members, company="Acme & Co")
    add_members(api, leads, contacts)
    return campaign, contacts


def subjects() -> list[str]:
    return sorted(m.subject for m in sent_emails())


def test_emails_are_personalised_and_7_bit_clean(api: Api, pump) -> None:
    steps = [
        {
            "type": "email",
            "subject": "Bonjour {{firstName|toi}} — {{company}}",
            "bodyText": "Hi {{firstName|there}}, plan {{customFields.plan|none}}. Évidemment.",
            "bodyHtml": "<p>Hi <b>{{firstName|there}}</b> from {{company}}</p>",
        }
    ]
    start(api, pump, steps)
    pump.drain()
    [mail] = sent_emails()
    assert mail.to == "person0@example.com"
    assert mail.subject == "Bonjour First0 — Acme & Co"
    # The body, then the unsubscribe footer every campaign email gets
    # (chalicelib/deliverability/email_links.py).
    body = mail.text.replace("\r\n", "\n").split("\n--\nUnsubscribe: ")[0]
    assert body.strip() == "Hi First0, plan none. Évidemment."
    assert mail.html is not None and "<b>First0</b> from Acme &amp; Co" in mail.html
    assert mail.raw.isascii()
    assert "Content-Transfer-Encoding: quoted-printable" in mail.raw
    assert "Message-ID:" in mail.raw


def test_a_short_wait_is_an_sqs_delay(api: Api, pump, fake_clock) -> None:
    campaign, _ = start(api, pump, QUICK)
    pump.drain()
    assert subjects() == ["One"]
    [enrollment] = enrollments(api, campaign)
    assert (enrollment["currentStep"], enrollment["status"]) == (2, "ACTIVE")
    assert enrollment["nextStepAt"] > enrollment["enrolledAt"]
    fake_clock.drain(pump, wait=3)
    assert subjects() == ["One", "Two"]
    [enrollment] = enrollments(api, campaign)
    assert (enrollment["status"], enrollment["emailsSent"], enrollment["nextStepAt"]) == (
        "COMPLETED",
        2,
        None,
    )


def test_a_long_wait_is_a_due_item_released_by_the_schedule(api: Api, pump, requests, fake_clock) -> None:
    from chalicelib.platform import clock
    from chalicelib.timers import due as due_steps

    steps = [QUICK[0], {"type": "wait", "minutes": 10}, {"type": "wait", "minutes": 10}, QUICK[2]]
    campaign, _ = start(api, pump, steps, members=3)
    pump.drain()
    assert subjects() == ["One"] * 3
    [due_minute] = {e["nextStepAt"][:16] for e in enrollments(api, campaign)}
    assert due_minute == clock.iso(clock.now() + timedelta(minutes=20))[:16]
    requests.reset()
    assert pump.invoke_schedule("due_steps").ok  # nothing is due yet
    pump.drain()
    assert subjects() == ["One"] * 3
    assert due_steps.release_due(now=clock.now() + timedelta(minutes=21)) == 3
    fake_clock.drain(pump, wait=2)
    assert subjects() == ["One"] * 3 + ["Two"] * 3
    assert requests.of("dynamodb", "Scan") == 0
    # Those buckets are done: the next run sends nothing more.
    assert due_steps.release_due(now=clock.now() + timedelta(minutes=22)) == 0


def test_a_bucket_too_big_for_one_run_is_finished_by_the_next_runs(
    api: Api, pump, monkeypatch, fake_clock
) -> None:
    """A big launch's long wait puts thousands in one minute's bucket: each run sends about
    its budget, a page at a time, and the next run resumes where it stopped; nothing twice."""
    from chalicelib.platform import clock
    from chalicelib.timers import due as due_steps

    monkeypatch.setattr(due_steps, "PAGE", 2)
    steps = [QUICK[0], {"type": "wait", "minutes": 10}, {"type": "wait", "minutes": 10}, QUICK[2]]
    start(api, pump, steps, members=7)
    pump.drain()
    later = clock.now() + timedelta(minutes=21)
    runs = []
    while len(runs) < 10 and (sent := due_steps.release_due(now=later, budget=3)):
        runs.append(sent)
    assert len(runs) >= 2 and all(sent <= 3 + 1 for sent in runs), runs  # budget + a page at most
    assert sum(runs) == 7
    assert due_steps.release_due(now=later + timedelta(minutes=1)) == 0
    fake_clock.drain(pump, wait=2)
    assert subjects() == ["One"] * 7 + ["Two"] * 7


def test_a_step_message_delivered_twice_sends_once(api: Api, pump, fake_clock) -> None:
    from app import workflow_steps

    campaign, _ = start(api, pump, QUICK, members=2)
    calls = fake_clock.drain(pump, wait=3)
    step_batches = [call.event for call in calls if call.handler == "workflow_steps"]
    assert step_batches
    for event in step_batches:
        assert not workflow_steps(event, LambdaContext("cohort-local-workflow_steps")).get(
            "batchItemFailures"
        )
    fake_clock.drain(pump, wait=2)
    assert subjects() == ["One", "One", "Two", "Two"]
    assert api.get(f"/api/v1/campaigns/{campaign}/overview").json["totals"]["sent"] == 4


def test_a_paused_campaign_sends_nothing_and_resumes_where_it_was(api: Api, pump, fake_clock) -> None:
    campaign, _ = start(api, pump, QUICK)
    pump.drain()
    assert api.post(f"/api/v1/campaigns/{campaign}/pause").status == 200
    fake_clock.drain(pump, wait=3)
    assert subjects() == ["One"]
    # Steps edited while paused: one before where the enrollment is, one after it.
    current = api.get(f"/api/v1/campaigns/{campaign}").json["steps"]
    new = [
        {"type": "email", "subject": "Zero", "bodyText": "too late for this one"},
        *current,
        {"type": "email", "subject": "Three", "bodyText": "new at the end"},
    ]
    assert api.patch(f"/api/v1/campaigns/{campaign}", {"steps": new}).status == 200
    assert api.post(f"/api/v1/campaigns/{campaign}/resume").status == 200
    assert all(call.ok for call in fake_clock.drain(pump, wait=2))
    assert subjects() == ["One", "Three", "Two"]
    [enrollment] = enrollments(api, campaign)
    assert (enrollment["status"], enrollment["emailsSent"]) == ("COMPLETED", 3)


def test_a_step_parked_again_while_its_release_runs_is_not_forgotten(
    api: Api, pump, monkeypatch, fake_clock
) -> None:
    """Resume, then pause again before the release ran: the released step, run at once by a
    fast consumer, parks itself again under the same key; the release must not delete that
    new parking, or the next resume finds nothing and the enrollment waits forever."""
    import types

    from chalicelib.campaigns import launch, step_runner

    # GIVEN
    campaign, _ = start(api, pump, QUICK)
    pump.drain()
    api.post(f"/api/v1/campaigns/{campaign}/pause")
    fake_clock.drain(pump, wait=3)  # step "Two" comes due and is parked
    api.post(f"/api/v1/campaigns/{campaign}/resume")
    api.post(f"/api/v1/campaigns/{campaign}/pause")

    def consumed_at_once(messages: list[Any]) -> int:
        # Sent, and taken off the queue by the step function before the release goes on.
        for body, _ in messages:
            step_runner.on_step_message(body)
        return len(messages)

    with monkeypatch.context() as patched:
        patched.setattr(launch, "step_messages", types.SimpleNamespace(send=consumed_at_once))
        fake_clock.drain(pump, wait=2)
    # WHEN
    api.post(f"/api/v1/campaigns/{campaign}/resume")
    fake_clock.drain(pump, wait=3)
    # THEN
    assert subjects() == ["One", "Two"]
    [enrollment] = enrollments(api, campaign)
    assert enrollment["status"] == "COMPLETED"


def test_completing_a_paused_campaign_stops_its_enrollments(api: Api, pump, fake_clock) -> None:
    # GIVEN
    campaign, _ = start(api, pump, QUICK, members=2)
    pump.drain()
    api.post(f"/api/v1/campaigns/{campaign}/pause")
    fake_clock.drain(pump, wait=3)
    # WHEN
    api.patch(f"/api/v1/campaigns/{campaign}", {"status": "COMPLETED"})
    fake_clock.drain(pump, wait=1)
    # THEN
    assert subjects() == ["One", "One"]
    assert {(e["status"], e["stopReason"]) for e in enrollments(api, campaign)} == {
        ("STOPPED", "campaignCompleted")
    }


def test_a_crash_between_sending_and_recording_never_sends_twice(api: Api, pump, fake_clock) -> None:
    """At most once: the redelivered message finds the step claimed, records it, moves on."""
    from chalicelib.campaigns import step_runner

    # GIVEN
    crashes: list[str] = []

    def crash_once(ref: Any, after: Any, now: str) -> bool:
        if not crashes:
            crashes.append(ref.step_id)
            raise RuntimeError("the function died after SES accepted the email")
        return step_runner.record_sent(ref, after, now)

    campaign, _ = start(api, pump, QUICK)
    # WHEN
    with step_runner.substitute(record=crash_once):
        calls = fake_clock.drain(pump, wait=3)
    # THEN
    assert crashes  # it did crash
    assert any(call.failed for call in calls if call.handler == "workflow_steps")
    assert subjects() == ["One", "Two"]
    [enrollment] = enrollments(api, campaign)
    assert (enrollment["status"], enrollment["emailsSent"]) == ("COMPLETED", 2)


def test_a_next_step_delivered_before_the_step_is_recorded_is_delivered_again(
    api: Api, pump, fake_clock
) -> None:
    """Two emails with no wait: the second's message exists before the first is recorded.
    Another function that takes it in that moment fails it (SQS delivers it again) instead
    of dropping it, which would leave the enrollment ACTIVE forever."""
    import json

    import boto3

    from chalicelib.campaigns import step_runner
    from chalicelib.platform import config

    early: list[str] = []

    def another_function_takes_the_next_message_first(ref: Any, after: Any, now: str) -> bool:
        if after is not None and not early:
            sqs = boto3.client("sqs")
            [message] = sqs.receive_message(QueueUrl=config.steps_queue_url()).get("Messages", [])
            with pytest.raises(step_runner.StepNotReady):
                step_runner.on_step_message(json.loads(message["Body"]))
            early.append(message["MessageId"])
            # Failed, so not deleted: SQS makes it visible again (after the visibility timeout).
            sqs.change_message_visibility(
                QueueUrl=config.steps_queue_url(), ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return step_runner.record_sent(ref, after, now)

    back_to_back = [QUICK[0], QUICK[2]]
    campaign, _ = start(api, pump, back_to_back)
    with step_runner.substitute(record=another_function_takes_the_next_message_first):
        assert all(call.ok for call in fake_clock.drain(pump, wait=3))
    assert early
    assert subjects() == ["One", "Two"]
    [enrollment] = enrollments(api, campaign)
    assert (enrollment["status"], enrollment["emailsSent"]) == ("COMPLETED", 2)


def test_an_unknown_send_outcome_counts_as_sent(api: Api, pump, fake_clock) -> None:
    """At most once, the other side: when SES may or may not have sent (a read timeout),
    the step is not sent again; the enrollment goes on with the next step."""
    from botocore.exceptions import ReadTimeoutError

    from chalicelib.campaigns import step_runner
    from chalicelib.platform import mailer

    # GIVEN
    attempts: list[str] = []

    def time_out_on_first(email: mailer.Email) -> str:
        attempts.append(email.subject)
        if email.subject == "One":
            raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")
        return mailer.send(email)

    campaign, _ = start(api, pump, QUICK)
    # WHEN
    with step_runner.substitute(send_email=time_out_on_first):
        fake_clock.drain(pump, wait=3)
    # THEN
    assert attempts == ["One", "Two"]
    assert subjects() == ["Two"]
    assert enrollments(api, campaign)[0]["status"] == "COMPLETED"


def test_ses_throttling_retries_only_that_message(api: Api, pump) -> None:
    from chalicelib.platform import mailer

    campaign, _ = start(api, pump, QUICK[:1], members=3)
    ses = ThrottlingSes({"person1@example.com"}, times=2)
    with mailer.use_client(ses):
        calls = pump.drain()
    step_calls = [call for call in calls if call.handler == "workflow_steps"]
    assert [len(call.failed) for call in step_calls if call.failed] == [1, 1]
    assert sum(len(call.records) for call in step_calls) == 3 + 2  # three, then the one twice
    assert ses.refused == 2
    assert sorted(m.to for m in sent_emails()) == [f"person{i}@example.com" for i in range(3)]
    assert {e["status"] for e in enrollments(api, campaign)} == {"COMPLETED"}


def test_a_message_throttled_every_time_goes_to_the_dead_letter_queue(
    api: Api, pump, aws, fake_clock
) -> None:
    import boto3

    from chalicelib.platform import mailer

    campaign, contacts = start(api, pump, QUICK, members=3)
    ses = ThrottlingSes({"person0@example.com"})
    with mailer.use_client(ses):
        fake_clock.drain(pump, wait=3)
    assert ses.refused == 5  # the queue's maxReceiveCount
    assert sorted((m.to, m.subject) for m in sent_emails()) == [
        (f"person{i}@example.com", subject) for i in (1, 2) for subject in ("One", "Two")
    ]
    dlq = boto3.client("sqs").receive_message(
        QueueUrl=aws.refs["StepsDeadLetterQueue"], MaxNumberOfMessages=10
    )
    assert len(dlq.get("Messages", [])) == 1
    stuck = {e["contactId"]: e for e in enrollments(api, campaign)}[contacts[0]]
    # Nothing was claimed for good: redriving the message later will send it.
    assert (stuck["status"], stuck["emailsSent"]) == ("ACTIVE", 0)


def test_a_contact_that_unsubscribed_meanwhile_gets_nothing_more(api: Api, pump, fake_clock) -> None:

    # GIVEN
    campaign, [contact] = start(api, pump, QUICK)
    pump.drain()
    ws = api.get("/api/v1/workspace").json["id"]
    # WHEN
    contact_status.raise_status(ws, contact, "REPLIED", "replied to One")
    fake_clock.drain(pump, wait=3)
    # THEN
    assert subjects() == ["One"]
    [enrollment] = enrollments(api, campaign)
    assert (enrollment["status"], enrollment["stopReason"]) == ("STOPPED", "replied")
