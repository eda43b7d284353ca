"""The `stage_secret` fixture: one COHORT_SECRET for views and for code a test calls directly.

Chalice's test client runs each view with the `local` stage's variables of
.chalice/config.json (its COHORT_SECRET among them), while the `aws` fixture exports another
value for the rest of the process (the pump's handlers, direct calls). Anything signed on one
side (tracking links, cursors, erasure hashes) must verify on the other, so tests that mix
them use this fixture:

    from tests.support.stage_secret import stage_secret  # noqa: F401
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.provision import Provisioned

CONFIG = Path(__file__).resolve().parent.parent.parent / ".chalice" / "config.json"
LOCAL_SECRET: str = json.loads(CONFIG.read_text())["stages"]["local"]["environment_variables"][
    "COHORT_SECRET"
]


@pytest.fixture(autouse=True)
def stage_secret(aws: Provisioned, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COHORT_SECRET", LOCAL_SECRET)
    return LOCAL_SECRET
