"""The `pump` fixture: the app's stream, queue and schedule handlers, run as Lambda runs them,
against the in-process moto of the `aws` fixture. tests/conftest.py registers it for every
test module (`pytest_plugins`):

    def test_enrolling_counts_the_member(api, pump) -> None:
        api.post(...)                       # writes to the table
        calls = pump.drain()                # stream records and queue messages, until idle
        assert all(call.ok for call in calls)

`pump.drain(wait=5)` also waits up to 5 s for delayed SQS messages (on the wall clock: tests
use `fake_clock.drain(pump, wait=5)` of tests/support/clock.py instead);
`pump.invoke_schedule(name)` fires a `schedule` handler. Failed SQS messages come back at once
(retry delay 0).
"""

from __future__ import annotations

import pytest

from devstack.pump import Pump
from infra.provision import Provisioned


@pytest.fixture
def pump(aws: Provisioned) -> Pump:
    from app import app

    return Pump(app, aws, retry_delay=0)
