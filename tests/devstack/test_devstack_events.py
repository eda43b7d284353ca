"""Lambda-shaped events, the failure rules of a batch, and when schedules fire (no AWS needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from chalice.app import DynamoDBEvent, SQSEvent

from devstack.emails import render
from devstack.events import LambdaContext, batch, make_sqs_record, make_stream_record, stream_record
from devstack.invoke import invoke
from devstack.schedules import next_time

START = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # a Saturday


def test_a_boto3_stream_record_gets_lambdas_shape() -> None:
    raw = {
        "eventID": "1",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": START,  # what boto3 makes of the number
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {"pk": {"S": "a"}},
            "SequenceNumber": "100",
            "SizeBytes": 10,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    record = stream_record(raw, "arn:aws:dynamodb:us-east-1:123456789012:table/cohort/stream/x")
    assert record["dynamodb"]["ApproximateCreationDateTime"] == int(START.timestamp())
    assert record["eventSourceARN"].endswith("/stream/x")
    [parsed] = DynamoDBEvent(batch([record]), LambdaContext("f"))  # Chalice accepts it
    assert parsed.timestamp == datetime(2026, 11, 21, 10, 0)
    assert raw["dynamodb"]["ApproximateCreationDateTime"] == START  # the input is left alone


def test_synthetic_records_have_distinct_ids_and_parse_in_chalice() -> None:
    records = [make_sqs_record({"kind": "x"}), make_sqs_record("plain")]
    assert records[0]["messageId"] != records[1]["messageId"]
    assert [r.body for r in SQSEvent(batch(records), LambdaContext("f"))] == ['{"kind":"x"}', "plain"]
    change = make_stream_record("MODIFY", {"pk": "a", "sk": "b"}, new={"n": 2}, old={"n": 1})
    assert change["dynamodb"]["NewImage"] == {"n": {"N": "2"}}
    [parsed] = DynamoDBEvent(batch([change]), LambdaContext("f"))
    assert parsed.keys == {"pk": {"S": "a"}, "sk": {"S": "b"}}


def test_the_context_counts_down_from_the_timeout() -> None:
    context = LambdaContext("cohort-local-table_changes", timeout_seconds=30)
    assert 29_000 < context.get_remaining_time_in_millis() <= 30_000
    assert context.invoked_function_arn.endswith(":function:cohort-local-table_changes")


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        (None, []),
        ({"batchItemFailures": []}, []),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ["m2"]),
        # An identifier that is not in the batch fails all of it, as on Lambda.
        ({"batchItemFailures": [{"itemIdentifier": "nope"}]}, ["m1", "m2"]),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, ["m1", "m2"]),
    ],
)
def test_reported_failures(result: object, failed: list[str]) -> None:
    # GIVEN
    records = [make_sqs_record("a", message_id="m1"), make_sqs_record("b", message_id="m2")]
    # WHEN
    call = invoke("h", "sqs", lambda event, context: result, batch(records), LambdaContext("h"))
    # THEN
    assert call.failed == failed


def test_a_raising_handler_fails_every_record() -> None:
    # GIVEN
    def handler(event: object, context: object) -> None:
        raise ValueError("boom")

    # WHEN
    call = invoke("h", "sqs", handler, batch([make_sqs_record("a", message_id="m1")]), LambdaContext("h"))
    # THEN
    assert call.failed == ["m1"] and isinstance(call.error, ValueError)
    assert call.line().startswith("[sqs] h records=1 failures=1 ms=")


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(5 minutes)", START, datetime(2026, 11, 21, 10, 5, tzinfo=UTC)),
        (
            "rate(1 hour)",
            datetime(2026, 11, 21, 11, 30, tzinfo=UTC),
            datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
        ),
        (
            "cron(0/15 * * * ? *)",
            datetime(2026, 11, 21, 10, 7, tzinfo=UTC),
            datetime(2026, 11, 21, 10, 15, tzinfo=UTC),
        ),
        ("cron(0 9 ? * MON-FRI *)", START, datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        ("cron(0 0 L * ? *)", START, datetime(2026, 11, 30, 0, 0, tzinfo=UTC)),
        ("cron(0 12 ? * 6L *)", START, datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
        ("cron(30 8 ? * 2#1 *)", START, datetime(2026, 12, 7, 8, 30, tzinfo=UTC)),
        ("cron(0 0 29 FEB ? *)", START, datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
    ],
)
def test_when_a_schedule_fires_next(expression: str, after: datetime, expected: datetime) -> None:
    assert next_time(expression, after, start=START) == expected


def test_unsupported_cron_syntax_is_refused() -> None:
    with pytest.raises(ValueError, match="W"):
        next_time("cron(0 9 15W * ? *)", START, start=START)


def test_sent_emails_are_shown_with_recipients_subject_and_body() -> None:
    # GIVEN
    raw = (
        "From: noreply@cohort.local\r\nTo: bob@example.com\r\nSubject: Raw\r\n"
        "List-Unsubscribe: <https://u.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nHi Bob =E2=9C=93\r\n"
    )
    ses = {
        "Message": [
            {
                "source": "noreply@cohort.local",
                "destinations": {"ToAddresses": ["ann@example.com"], "CcAddresses": ["c@example.com"]},
                "subject": "Welcome",
                "body": "Hello Ann",
            }
        ],
        "RawMessage": [
            {"source": "noreply@cohort.local", "destinations": ["bob@example.com"], "raw_data": raw}
        ],
    }
    # WHEN
    simple, mime = render(ses)
    # THEN
    assert simple.splitlines() == [
        "From: noreply@cohort.local",
        "To: ann@example.com, c@example.com",
        "Subject: Welcome",
        "",
        "Hello Ann",
    ]
    assert "To: bob@example.com\nSubject: Raw" in mime
    assert "List-Unsubscribe: <https://u.example>" in mime and mime.endswith("Hi Bob ✓")
