"""What each plan allows."""

from __future__ import annotations

from enum import StrEnum


class Plan(StrEnum):
    FREE = "FREE"
    STARTER = "STARTER"
    PRO = "PRO"


CONTACT_LIMITS: dict[Plan, int | None] = {Plan.FREE: 300, Plan.STARTER: None, Plan.PRO: None}


def contact_limit(plan: str) -> int | None:
    return CONTACT_LIMITS[Plan(plan)]
