"""Create the resources of infra/resources.json with boto3 (in moto, for the local stack and tests).

resources.json is CloudFormation; this reads the few resource types it holds and the
intrinsic functions it uses (Ref, Fn::GetAtt) so the key schema, GSIs, stream and queues exist
in exactly one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

RESOURCES_FILE = Path(__file__).with_name("resources.json")


def load_template() -> dict[str, Any]:
    return json.loads(RESOURCES_FILE.read_text())


@dataclass
class Provisioned:
    """What was created: the values Ref and Fn::GetAtt resolve to, by logical id."""

    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and "Ref" in value:
            return self.refs[value["Ref"]]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attr = value["Fn::GetAtt"]
            return self.attrs[(logical_id, attr)]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def environment(self, parameters: dict[str, str] | None = None) -> dict[str, str]:
        """The Lambda environment variables of the template, resolved.

        A variable set from a template Parameter (the secrets) takes its value from
        `parameters` and is left out when that has none: it is the caller's to set.
        """
        template = load_template()
        declared = template.get("Parameters", {})
        given = parameters or {}
        env = {}
        for name, value in template["Globals"]["Function"]["Environment"]["Variables"].items():
            ref = value.get("Ref") if isinstance(value, dict) else None
            if ref in declared:
                if ref in given:
                    env[name] = given[ref]
            else:
                env[name] = self.resolve(value)
        return env

    @property
    def table_name(self) -> str:
        return self.refs["CohortTable"]

    @property
    def stream_arn(self) -> str:
        return self.attrs[("CohortTable", "StreamArn")]


def provision(session: boto3.session.Session | None = None) -> Provisioned:
    """Create every resource of the template; dead-letter queues before the queues using them."""
    session = session or boto3.session.Session()
    resources = load_template()["Resources"]
    done = Provisioned()
    pending = dict(resources)
    while pending:
        for logical_id, resource in list(pending.items()):
            if not _dependencies_ready(resource, done):
                continue
            create = _CREATORS[resource["Type"]]
            create(session, logical_id, done.resolve(resource["Properties"]), done)
            del pending[logical_id]
    return done


def _dependencies_ready(resource: dict[str, Any], done: Provisioned) -> bool:
    try:
        done.resolve(resource["Properties"])
    except KeyError:
        return False
    return True


def _create_table(session: Any, logical_id: str, props: dict[str, Any], done: Provisioned) -> None:
    client = session.client("dynamodb")
    name = props["TableName"]
    response = client.create_table(
        TableName=name,
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props.get("GlobalSecondaryIndexes", []),
        StreamSpecification={"StreamEnabled": True, **props["StreamSpecification"]},
    )
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    done.refs[logical_id] = name
    done.attrs[(logical_id, "Arn")] = response["TableDescription"]["TableArn"]
    done.attrs[(logical_id, "StreamArn")] = response["TableDescription"]["LatestStreamArn"]


def _create_queue(session: Any, logical_id: str, props: dict[str, Any], done: Provisioned) -> None:
    client = session.client("sqs")
    attributes = {
        key: json.dumps(value) if isinstance(value, dict) else str(value)
        for key, value in props.items()
        if key != "QueueName"
    }
    url = client.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    done.refs[logical_id] = url
    done.attrs[(logical_id, "Arn")] = arn
    done.attrs[(logical_id, "QueueName")] = props["QueueName"]


def _create_topic(session: Any, logical_id: str, props: dict[str, Any], done: Provisioned) -> None:
    arn = session.client("sns").create_topic(Name=props["TopicName"])["TopicArn"]
    done.refs[logical_id] = arn  # Ref of a topic is its ARN
    done.attrs[(logical_id, "TopicArn")] = arn
    done.attrs[(logical_id, "TopicName")] = props["TopicName"]


def _aws_only(session: Any, logical_id: str, props: dict[str, Any], done: Provisioned) -> None:
    """Permissions for AWS services (SES publishing to a topic): moto does not check them."""
    done.refs[logical_id] = logical_id


def _substitute(session: Any, value: Any) -> Any:
    """`Fn::Sub` with the pseudo parameters only (what the bucket's name and policy use)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        account = session.client("sts").get_caller_identity()["Account"]
        for name, actual in (
            ("AWS::AccountId", account),
            ("AWS::Region", session.region_name),
            ("AWS::Partition", "aws"),
        ):
            text = text.replace("${" + name + "}", actual)
        return text
    if isinstance(value, dict):
        return {k: _substitute(session, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(session, v) for v in value]
    return value


def _create_queue_policy(session: Any, logical_id: str, props: dict[str, Any], done: Provisioned) -> None:
    props = _substitute(session, props)
    for url in props["Queues"]:
        session.client("sqs").set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    done.refs[logical_id] = logical_id


def _create_bucket(session: Any, logical_id: str, props: dict[str, Any], done: Provisioned) -> None:
    """The bucket, its lifecycle rules and its notifications (moto delivers S3 events to SQS,
    in-process and in server mode alike)."""
    props = _substitute(session, props)
    client = session.client("s3")
    name = props["BucketName"]
    if session.region_name == "us-east-1":
        client.create_bucket(Bucket=name)
    else:
        client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": session.region_name}
        )
    rules = []
    for rule in props.get("LifecycleConfiguration", {}).get("Rules", []):
        converted: dict[str, Any] = {
            "ID": rule["Id"],
            "Status": rule["Status"],
            "Filter": {"Prefix": rule.get("Prefix", "")},
        }
        if "ExpirationInDays" in rule:
            converted["Expiration"] = {"Days": rule["ExpirationInDays"]}
        if "AbortIncompleteMultipartUpload" in rule:
            converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        rules.append(converted)
    if rules:
        client.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    cors = props.get("CorsConfiguration", {}).get("CorsRules", [])
    if cors:
        renamed = {"MaxAge": "MaxAgeSeconds"}  # CloudFormation's names -> the S3 API's
        rules_ = [{renamed.get(k, k): v for k, v in rule.items()} for rule in cors]
        client.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules_})
    queues = [
        {
            "QueueArn": queue["Queue"],
            "Events": [queue["Event"]],
            "Filter": {"Key": {"FilterRules": queue["Filter"]["S3Key"]["Rules"]}},
        }
        for queue in props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    ]
    if queues:
        client.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"QueueConfigurations": queues}
        )
        # S3 answers a new configuration with an s3:TestEvent message; a fresh stack's queues
        # start empty (the handler would only skip it).
        urls = {arn: done.refs[lid] for (lid, attr), arn in done.attrs.items() if attr == "Arn"}
        for queue in queues:
            session.client("sqs").purge_queue(QueueUrl=urls[queue["QueueArn"]])
    done.refs[logical_id] = name
    done.attrs[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"


_CREATORS = {
    "AWS::DynamoDB::Table": _create_table,
    "AWS::SQS::Queue": _create_queue,
    "AWS::SQS::QueuePolicy": _create_queue_policy,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::SNS::Topic": _create_topic,
    "AWS::SNS::TopicPolicy": _aws_only,
}
