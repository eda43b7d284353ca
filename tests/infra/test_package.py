"""The deployment path: least-privilege IAM, partial batch failures on every event source, and
API Gateway's own errors in the API's error shape. Built in-process (no `chalice package`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.package import (
    ROOT,
    STREAM_MAX_RETRIES,
    cfn_name,
    gateway_responses,
    merge_template,
)
from infra.provision import Provisioned
from tests.support.infra import as_list, policy_statements

POLICY = ROOT / ".chalice" / "policy-dev.json"
SAM_TEMPLATE = ROOT / "build" / "sam.json"


def test_policy_has_no_wildcard_action_and_no_unscoped_resource() -> None:
    for statement in policy_statements():
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            assert "*" not in action, action
        for resource in as_list(statement["Resource"]):
            assert resource != "*" and ":*:*:*" not in resource, resource


def test_policy_covers_the_table_queues_and_email() -> None:
    granted = {action for s in policy_statements() for action in as_list(s["Action"])}
    needed = {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:TransactWriteItems",
        "dynamodb:GetRecords",
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "ses:SendEmail",
        "logs:PutLogEvents",
    }
    assert needed <= granted


def _events(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: event
        for resource in template["Resources"].values()
        for name, event in resource.get("Properties", {}).get("Events", {}).items()
    }


def test_every_event_source_of_the_app_reports_batch_item_failures() -> None:
    from app import app

    template = merge_template()
    batched = [s for s in app.event_sources if type(s).__name__ in {"DynamoDBEventConfig", "SQSEventConfig"}]
    events = _events(template)
    assert batched and len(events) == len(batched)
    resources = template["Resources"]
    for name, event in events.items():
        properties = event["Properties"]
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        if name.endswith("DynamodbEventSource"):
            assert properties["Stream"] == {"Fn::GetAtt": ["CohortTable", "StreamArn"]}
            assert properties["BisectBatchOnFunctionError"] is True
            assert 0 <= properties["MaximumRetryAttempts"] == STREAM_MAX_RETRIES <= 10_000
            destination = properties["DestinationConfig"]["OnFailure"]["Destination"]
            assert resources[destination["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"
        else:
            # Exactly one intrinsic: the merge replaces Chalice's Fn::Sub string.
            (queue_ref,) = properties["Queue"].values()
            assert queue_ref.startswith("${") and queue_ref.endswith(".Arn}")
            assert resources[queue_ref[2:-5]]["Type"] == "AWS::SQS::Queue"


def test_override_ids_follow_chalice_naming() -> None:
    assert cfn_name("table_changes") == "TableChanges"
    assert cfn_name("table_changes-dynamodb-event-source") == "TableChangesDynamodbEventSource"
    assert cfn_name("workflow_steps-sqs-event-source") == "WorkflowStepsSqsEventSource"


def test_queue_visibility_outlasts_its_consumer() -> None:
    """Lambda refuses an SQS mapping whose visibility timeout is below the function's timeout;
    AWS advises six times it, so a retried batch is not delivered twice at once."""
    from app import app

    stage = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["dev"]
    queues = {
        r["Properties"]["QueueName"]: r["Properties"]
        for r in merge_template()["Resources"].values()
        if r.get("Type") == "AWS::SQS::Queue"
    }
    for source in (s for s in app.event_sources if type(s).__name__ == "SQSEventConfig"):
        function = stage.get("lambda_functions", {}).get(source.name, {})
        timeout = function.get("lambda_timeout", stage.get("lambda_timeout", 60))
        assert queues[source.queue]["VisibilityTimeout"] >= 6 * timeout, source.queue


def test_secrets_are_noecho_parameters_in_the_environment() -> None:
    template = merge_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for variable, parameter in {"COHORT_SECRET": "CohortSecret", "COHORT_ADMIN_TOKEN": "AdminToken"}.items():
        assert variables[variable] == {"Ref": parameter}
        assert template["Parameters"][parameter]["NoEcho"] is True


def test_provisioned_environment_leaves_parameters_to_the_caller() -> None:
    done = Provisioned(
        refs={
            "CohortTable": "cohort",
            "StepsQueue": "steps-url",
            "JobsQueue": "jobs-url",
            "SesNotificationsTopic": "arn:aws:sns:us-east-1:000000000000:cohort-ses-notifications",
            "ImportsQueue": "imports-url",
            "ImportsBucket": "imports-bucket",
            "WebhooksQueue": "webhooks-url",
        }
    )
    assert "COHORT_SECRET" not in done.environment()
    assert done.environment()["COHORT_TABLE"] == "cohort"
    assert done.environment({"CohortSecret": "s3cret"})["COHORT_SECRET"] == "s3cret"


def test_gateway_errors_answer_in_the_api_error_shape() -> None:
    responses = gateway_responses()
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    for response in responses.values():
        # API Gateway substitutes the variable with an already-quoted JSON string.
        body = response["responseTemplates"]["application/json"].replace(
            "$context.error.messageString", '"Unsupported Media Type"'
        )
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message", "details"} and error["details"] == []


@pytest.mark.skipif(not SAM_TEMPLATE.exists(), reason="run `make package` first")
def test_packaged_template_kept_the_overrides() -> None:
    """The merge is Chalice's: check it kept every override (and left one intrinsic per Queue)."""
    packaged = json.loads(Path(SAM_TEMPLATE).read_text())
    # Batches (streams, queues) only: SNS invokes a function with one message, nothing to fail partially.
    events = {n: e for n, e in _events(packaged).items() if e["Type"] in ("SQS", "DynamoDB")}
    assert events
    for name, event in events.items():
        properties = event["Properties"]
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
        if event["Type"] == "SQS":
            assert list(properties["Queue"]) == ["Fn::Sub"], name
    definition = packaged["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert "DEFAULT_5XX" in definition["x-amazon-apigateway-gateway-responses"]
    settings = packaged["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    form_post = next(s for s in settings if s["HttpMethod"] == "POST")
    assert form_post["ResourcePath"] == "/~1f~1{formId}"
    assert "/f/{formId}" in definition["paths"]  # the route the setting names exists
    for setting in settings:
        for limit in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
            assert packaged["Parameters"][setting[limit]["Ref"]]["Default"] > 0
