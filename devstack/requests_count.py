"""Counts the AWS requests this process makes, by service and operation (botocore hooks).

Installed into botocore's built-in handlers, so every client created afterwards (boto3's
and PynamoDB's alike) reports to it. Used by tests and bench/ to assert request budgets.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from botocore import handlers


class RequestCounter:
    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.enabled = True

    def __call__(self, model: Any, **_: Any) -> None:
        if self.enabled:
            self.calls[(model.service_model.service_name, model.name)] += 1

    def reset(self) -> None:
        self.calls.clear()

    def total(self, service: str) -> int:
        return sum(n for (svc, _), n in self.calls.items() if svc == service)

    def of(self, service: str, operation: str) -> int:
        return self.calls[(service, operation)]

    def snapshot(self) -> dict[str, int]:
        return {f"{svc}.{op}": n for (svc, op), n in sorted(self.calls.items())}


COUNTER = RequestCounter()
_INSTALLED = False


def install() -> RequestCounter:
    """Register the counter for every botocore client created from now on."""
    global _INSTALLED
    if not _INSTALLED:
        handlers.BUILTIN_HANDLERS.append(("before-call", COUNTER))
        _INSTALLED = True
    return COUNTER
