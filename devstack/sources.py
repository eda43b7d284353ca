"""The event sources of a Chalice app, bound to the resources the stack provisioned.

Chalice records every `on_dynamodb_record`, `on_sqs_message`, `on_sns_message` and `schedule`
decorator in `app.event_sources` and the callable it returned in `app.handler_map`. A
decorator names its stream by an ARN that is only a placeholder locally (app.py) and its
queue and topic by name; here they become the provisioned stream ARN, queue URL, topic ARN.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from chalice import Chalice
from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SNSEventConfig, SQSEventConfig

from devstack.invoke import Handler
from infra.provision import Provisioned


@dataclass(frozen=True)
class StreamSource:
    name: str
    handler: Handler
    stream_arn: str
    batch_size: int
    window_seconds: float
    starting_position: str  # TRIM_HORIZON | LATEST


@dataclass(frozen=True)
class QueueSource:
    name: str
    handler: Handler
    queue_url: str
    queue_arn: str
    batch_size: int


@dataclass(frozen=True)
class ScheduleSource:
    name: str
    handler: Handler
    expression: str  # rate(...) | cron(...)


@dataclass(frozen=True)
class TopicSource:
    name: str
    handler: Handler
    topic_arn: str


Source = StreamSource | QueueSource | ScheduleSource | TopicSource


def bind(app: Chalice, resources: Provisioned) -> list[Source]:
    """Every event source of `app` that devstack runs; others are reported on stderr."""
    bound: list[Source] = []
    for config in app.event_sources:
        handler = app.handler_map[config.name]
        if isinstance(config, DynamoDBEventConfig):
            bound.append(
                StreamSource(
                    name=config.name,
                    handler=handler,
                    stream_arn=stream_arn(config.stream_arn, resources),
                    batch_size=config.batch_size,
                    window_seconds=config.maximum_batching_window_in_seconds or 0,
                    starting_position=config.starting_position,
                )
            )
        elif isinstance(config, SQSEventConfig):
            url, arn = queue(config.queue or (config.queue_arn or "").rsplit(":", 1)[-1], resources)
            bound.append(QueueSource(config.name, handler, url, arn, config.batch_size))
        elif isinstance(config, ScheduledEventConfig):
            expression = config.schedule_expression
            text = expression if isinstance(expression, str) else expression.to_string()
            bound.append(ScheduleSource(config.name, handler, text))
        elif isinstance(config, SNSEventConfig):
            bound.append(TopicSource(config.name, handler, topic(config.topic, resources)))
        else:
            print(f"devstack: {config.name} ({type(config).__name__}) is not run locally", file=sys.stderr)
    return bound


def stream_arn(arn: str, resources: Provisioned) -> str:
    """The provisioned stream of the table the ARN names (`arn:...:table/<name>/stream/...`)."""
    streams = {
        logical_id: value for (logical_id, attr), value in resources.attrs.items() if attr == "StreamArn"
    }
    if arn in streams.values():
        return arn
    parts = arn.split(":", 5)[-1].split("/")
    table = parts[1] if len(parts) > 1 and parts[0] == "table" else None
    for logical_id, value in streams.items():
        if resources.refs.get(logical_id) == table:
            return value
    raise LookupError(f"no provisioned table has the stream {arn!r}")


def queue(name: str, resources: Provisioned) -> tuple[str, str]:
    """The URL and ARN of the provisioned queue called `name`."""
    for (logical_id, attr), value in resources.attrs.items():
        if attr == "QueueName" and value == name:
            return resources.refs[logical_id], resources.attrs[(logical_id, "Arn")]
    raise LookupError(f"no provisioned queue is named {name!r} (infra/resources.json)")


def topic(name_or_arn: str, resources: Provisioned) -> str:
    """The ARN of the provisioned SNS topic that the decorator names (by name or ARN)."""
    name = name_or_arn.rsplit(":", 1)[-1]
    for (logical_id, attr), value in resources.attrs.items():
        if attr == "TopicName" and value == name:
            return resources.refs[logical_id]
    raise LookupError(f"no provisioned topic is named {name!r} (infra/resources.json)")
