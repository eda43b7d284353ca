"""boto3 clients for devstack's own calls (polling, deleting, provisioning checks)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from devstack.requests_count import COUNTER

# boto3 1.44 addresses DynamoDB Streams at <account>.streams-ddb.<region>.amazonaws.com, a host
# in-process moto 5.2.5 does not route ("404 Not yet implemented"); the classic regional
# endpoint works there and against AWS. AWS_ENDPOINT_URL (moto server) overrides both.
_CONFIG = Config(account_id_endpoint_mode="disabled", retries={"max_attempts": 2, "mode": "standard"})


def client(service: str, session: boto3.session.Session | None = None) -> Any:
    """A client whose requests are not counted as the app's (tests assert the app's budgets
    with devstack.requests_count; the pump's polling would pollute them)."""
    made = (session or boto3.session.Session()).client(service, config=_CONFIG)
    made.meta.events.unregister("before-call", COUNTER)
    return made
