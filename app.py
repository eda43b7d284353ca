"""Cohort: routes and event handlers. Thin on purpose: everything else is in chalicelib."""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice, Rate

from chalicelib.api import http
from chalicelib.api.routes import (
    activity,
    campaigns,
    contacts,
    exclusions,
    fields,
    forms,
    groups,
    imports,
    jobs,
    keys,
    previews,
    senders,
    syncs,
    system,
    tags,
    tracking,
    webhooks,
    workspaces,
)
from chalicelib.events import dispatch
from chalicelib.platform import queues, streams

# configure_logs=False: logs go through Powertools (chalicelib.platform.logs) as structured JSON.
app = Chalice(app_name="cohort", configure_logs=False)
app.register_middleware(http.middleware, "http")
for blueprint in (
    system.bp,
    workspaces.bp,
    keys.bp,
    senders.bp,
    contacts.bp,
    tags.bp,
    fields.bp,
    forms.bp,
    groups.bp,
    jobs.bp,
    campaigns.bp,
    previews.bp,
    exclusions.bp,
    activity.bp,
    tracking.bp,
    imports.bp,
    syncs.bp,
    webhooks.bp,
):
    app.register_blueprint(blueprint)

# The deployed template points this at the table's stream (infra/package.py); the local
# stack maps it to moto's stream. The value only has to be a well-formed ARN.
STREAM_ARN = os.environ.get(
    "COHORT_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/cohort/stream/local"
)


# No batching window on the stream: a rule group's join is two stream hops (the contact's
# change writes the membership, the membership enrolls), and each window is waited for in full
# when traffic is light; under load Lambda's polls (4 a second a shard) fill batches anyway.
@app.on_dynamodb_record(
    stream_arn=STREAM_ARN,
    batch_size=100,
    starting_position="TRIM_HORIZON",
    maximum_batching_window_in_seconds=0,
)
def table_changes(event: Any) -> dict[str, Any]:
    return streams.handle(event.to_dict(), event.context, dispatch.stream_reactions())


@app.on_sqs_message(queue="cohort-steps", batch_size=10, maximum_batching_window_in_seconds=1)
def workflow_steps(event: Any) -> dict[str, Any]:
    return queues.handle(event.to_dict(), event.context, dispatch.steps_routes())


@app.on_sqs_message(queue="cohort-jobs", batch_size=1)
def background_jobs(event: Any) -> dict[str, Any]:
    return queues.handle(event.to_dict(), event.context, dispatch.jobs_routes())


@app.on_sqs_message(queue="cohort-imports", batch_size=1)
def import_files(event: Any) -> dict[str, Any]:
    """Uploaded files (S3 notifications) and the steps of imports and exports."""
    return queues.handle(event.to_dict(), event.context, dispatch.imports_routes())


# One delivery attempt an invocation: a slow receiver (10 s timeout) holds back only its own.
@app.on_sqs_message(queue="cohort-webhooks", batch_size=1)
def webhook_deliveries(event: Any) -> dict[str, Any]:
    return queues.handle(event.to_dict(), event.context, dispatch.webhooks_routes())


@app.schedule(Rate(1, unit=Rate.DAYS))
def recount_groups(event: Any) -> None:
    from chalicelib.groups import stats as group_stats  # cold start: this schedule only

    group_stats.daily_recount()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def due_steps(event: Any) -> None:
    from chalicelib.timers import due  # cold start: this schedule only

    due.release_due()


@app.schedule(Rate(5, unit=Rate.MINUTES))
def due_syncs(event: Any) -> None:
    from chalicelib.exchange import sync_schedule  # cold start: this schedule only

    sync_schedule.start_due()


# SES publishes bounces, complaints, deliveries and received mail to this topic
# (infra/resources.json); the handler also checks each record's TopicArn (COHORT_SES_TOPIC_ARN).
@app.on_sns_message(topic="cohort-ses-notifications")
def ses_notifications(event: Any) -> dict[str, int]:
    from chalicelib.deliverability import ses_notifications as notifications  # cold start: SNS only

    return notifications.handle(event.to_dict())
