"""Lambda-shaped events for tests that call a handler directly (the builders live in devstack).
For example:

    from app import table_changes
    from tests.support.events import LambdaContext, batch, make_stream_record

    event = batch([make_stream_record("INSERT", keys, new=item)])
    result = table_changes(event, LambdaContext("cohort-local-table_changes"))
"""

from devstack.events import (
    LambdaContext,
    batch,
    make_sns_record,
    make_sqs_record,
    make_stream_record,
    scheduled_event,
    sns_record,
    sqs_record,
    stream_record,
)

__all__ = [
    "LambdaContext",
    "batch",
    "make_sns_record",
    "make_sqs_record",
    "make_stream_record",
    "scheduled_event",
    "sns_record",
    "sqs_record",
    "stream_record",
]
