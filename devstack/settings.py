"""The numbers the local stack shares with the deployed one, and the ports it listens on.

Only constants and environment reads. STREAM_MAX_RETRIES comes from infra/package.py, the
deployed stream mapping's definition, so the local poller gives a failing record the same
retries as Lambda.
"""

from __future__ import annotations

import os
from pathlib import Path

from infra.package import STREAM_MAX_RETRIES

__all__ = ["STREAM_MAX_RETRIES"]

# Logical ids in infra/resources.json that the pollers need besides the handlers' own sources.
TABLE = "CohortTable"
STREAM_FAILURE_QUEUE = "StreamFailureQueue"

HOST = "127.0.0.1"
REGION = "us-east-1"

# A stage of .chalice/config.json whose environment_variables the stack exports.
CHALICE_STAGE = "local"

# How long a received SQS message stays invisible while its handler runs (Lambda's function
# timeout plays this part); a crash of the stack makes it visible again after this long.
SQS_IN_FLIGHT_SECONDS = 60
# How soon a message whose handler failed is delivered again. AWS waits for the queue's
# visibility timeout (minutes); locally a second keeps the retry loop visible but quick.
SQS_RETRY_DELAY_SECONDS = 1
# Lambda invokes an SNS handler asynchronously: a failed call is retried twice, then dropped.
SNS_MAX_ATTEMPTS = 3
# Long-poll wait of the SQS pollers of the running stack (tests use 0).
SQS_WAIT_SECONDS = 1

# How often the running stack asks a stream for new records and for new shards.
STREAM_POLL_SECONDS = 0.2
STREAM_SHARD_REFRESH_SECONDS = 10.0

# Verified in moto's SES at start: SES v1 refuses to send from an unverified address.
DEFAULT_SES_IDENTITIES = "noreply@cohort.local,cohort.local"


# How often the running stack appends what changed to its state's log (devstack.persist): a
# `kill -9` loses at most this much plus the time one frame takes (what changed meanwhile).
SNAPSHOT_SECONDS = 1.0

PROJECT_DIR = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    """Where `make run` keeps its state (DEVSTACK_STATE_DIR; `.devstack/` of the project by default)."""
    return Path(os.environ.get("DEVSTACK_STATE_DIR") or PROJECT_DIR / ".devstack").resolve()


def in_process() -> bool:
    """The stack's handlers call moto in-process (DEVSTACK_IN_PROCESS=0: over HTTP, as before)."""
    return os.environ.get("DEVSTACK_IN_PROCESS", "1") != "0"


def moto_port() -> int:
    return int(os.environ.get("MOTO_PORT", "5000"))


def http_port() -> int:
    return int(os.environ.get("PORT", "8000"))


def moto_url() -> str:
    return f"http://{HOST}:{moto_port()}"


def base_url() -> str:
    return f"http://{HOST}:{http_port()}"


def ses_identities() -> list[str]:
    raw = os.environ.get("COHORT_SES_VERIFIED", DEFAULT_SES_IDENTITIES)
    return [item.strip() for item in raw.split(",") if item.strip()]
