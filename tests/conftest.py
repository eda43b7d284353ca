"""Fixtures: moto (in-process) with the resources of infra/resources.json, the Chalice test
client, workspaces with keys, and the event pump that delivers stream and queue records to
the app's handlers exactly as Lambda would."""

from __future__ import annotations

import json
import os
from pathlib import Path

# Before anything creates an AWS client: fake credentials, one region, the request counter.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from collections.abc import Callable, Iterator

import pytest
from chalice.test import Client
from moto import mock_aws

from devstack import moto_patches
from devstack.requests_count import RequestCounter, install
from infra.provision import Provisioned, provision
from tests.support.api import Api

# The `pump` fixture (devstack's pollers run synchronously), the `fake_clock` fixture, the
# `browser` and `server` fixtures (headless Chromium on `chalice local`) and the real database
# servers of the sync tests are available to every test module.
pytest_plugins = [
    "tests.support.pump",
    "tests.support.clock",
    "tests.support.browser",
    "tests.support.databases",
]

COUNTER = install()
moto_patches.install()
LOCAL_STAGE_ENV: dict[str, str] = json.loads(
    (Path(__file__).resolve().parent.parent / ".chalice" / "config.json").read_text()
)["stages"]["local"]["environment_variables"]
ADMIN_TOKEN = LOCAL_STAGE_ENV["COHORT_ADMIN_TOKEN"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provisioned]:
    with mock_aws():
        resources = provision()
        for name, value in resources.environment().items():
            monkeypatch.setenv(name, value)
        # The same values Chalice's test client gives requests (the local stage), so what a
        # request signs or hashes matches what handlers and domain calls in tests compute.
        for name, value in LOCAL_STAGE_ENV.items():
            monkeypatch.setenv(name, value)
        yield resources


@pytest.fixture
def client(aws: Provisioned) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client


@pytest.fixture
def requests() -> RequestCounter:
    COUNTER.reset()
    return COUNTER


@pytest.fixture
def new_workspace(client: Client) -> Callable[..., Api]:
    def create(plan: str = "PRO", name: str = "Acme") -> Api:
        reply = Api(client).post(
            "/api/v1/workspaces", {"name": name, "plan": plan}, headers={"X-Admin-Token": ADMIN_TOKEN}
        )
        assert reply.status == 201, reply.json
        return Api(client, reply.json["apiKey"])

    return create


@pytest.fixture
def api(new_workspace: Callable[..., Api]) -> Api:
    """A PRO workspace's authenticated client."""
    return new_workspace()
