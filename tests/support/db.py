"""The table as a test sees it (a test may Scan; the product never does)."""

from __future__ import annotations

from typing import Any

import boto3


def table(aws: Any) -> list[dict[str, Any]]:
    """Every item of the table's first Scan page, in a stable order: compare two of these to
    show a call changed nothing."""
    return sorted(boto3.client("dynamodb").scan(TableName=aws.table_name)["Items"], key=str)
