"""Settings read from the environment (set by .chalice/config.json, the template or the local stack)."""

from __future__ import annotations

import os


def table_name() -> str:
    return os.environ.get("COHORT_TABLE", "cohort")


def steps_queue_url() -> str:
    return os.environ["COHORT_STEPS_QUEUE_URL"]


def jobs_queue_url() -> str:
    return os.environ["COHORT_JOBS_QUEUE_URL"]


def admin_token() -> str | None:
    """The token that may create workspaces; unset means nobody can."""
    return os.environ.get("COHORT_ADMIN_TOKEN") or None


def secret() -> bytes:
    """Signs cursors and tracking links; never in code."""
    value = os.environ.get("COHORT_SECRET")
    if not value:
        raise RuntimeError("COHORT_SECRET is not set")
    return value.encode()


def public_base_url() -> str:
    return os.environ.get("COHORT_PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


def imports_bucket() -> str:
    """Uploaded CSV files, import error reports and large exports (chalicelib.platform.files)."""
    return os.environ["COHORT_IMPORTS_BUCKET"]


def imports_queue_url() -> str:
    return os.environ["COHORT_IMPORTS_QUEUE_URL"]


def webhooks_queue_url() -> str:
    return os.environ["COHORT_WEBHOOKS_QUEUE_URL"]


def is_local_stage() -> bool:
    """The developer's stack (.chalice/config.json's `local` stage sets COHORT_STAGE=local):
    webhooks may go to 127.0.0.1 there. Unset means a deployed stage, the safe default."""
    return os.environ.get("COHORT_STAGE") == "local"
