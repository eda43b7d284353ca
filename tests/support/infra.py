"""The functions' IAM policy (.chalice/policy-dev.json), as the deployment tests read it."""

from __future__ import annotations

import json
from typing import Any

from infra.package import ROOT

POLICY = ROOT / ".chalice" / "policy-dev.json"


def policy_statements() -> list[dict[str, Any]]:
    statements = json.loads(POLICY.read_text())["Statement"]
    return statements if isinstance(statements, list) else [statements]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value
