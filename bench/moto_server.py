"""The AWS every bench runs against: moto, with the same fix of moto's transactions as the
local stack and the tests (devstack.moto_patches) and the same resources (infra.provision),
the local stage's environment loaded.

    with moto_server() as resources:      # a server in a thread of this process
        ...                               # boto3 and the app talk to it (AWS_ENDPOINT_URL)

`start_process()` runs the server in a child process instead (bench.imports: the handler's
memory is then measured without the server's); `in_process()` is moto without a server
(mock_aws, no HTTP: bench.tracking).

Install botocore hooks (devstack.requests_count) before entering any of them: clients created
afterwards are counted.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def moto_server() -> Iterator[Any]:
    """A moto server in a thread, provisioned; yields infra.provision's resources."""
    server = _server(_free_port())
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield _provision(f"http://{host}:{port}")
    finally:
        server.stop()


@contextmanager
def start_process() -> Iterator[Any]:
    """A moto server in a child process, provisioned; yields the resources."""
    port = _free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.moto_server", str(port)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        if child.stdout.readline().strip() != "ready":
            raise SystemExit("moto did not start")
        yield _provision(f"http://127.0.0.1:{port}")
    finally:
        child.stdin.close()  # the child stops when its stdin closes
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a big table takes moto a while to let go of
            child.kill()
            child.wait()


@contextmanager
def in_process() -> Iterator[Any]:
    """moto in this process (mock_aws: boto3's requests never leave it), provisioned."""
    _on_path()
    from moto import mock_aws

    from devstack import moto_patches

    moto_patches.install()
    with mock_aws():
        yield _provision(None)


def _server(port: int) -> Any:
    _on_path()
    from moto.server import ThreadedMotoServer

    from devstack import moto_patches

    moto_patches.install()  # moto copies the whole table per transaction action otherwise
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    return ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)


def _provision(endpoint: str | None) -> Any:
    """Point this process at moto, create the resources, load the local stage's settings."""
    _on_path()
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    if endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
    else:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    from infra.provision import provision

    resources = provision()
    os.environ.update(resources.environment())
    stage = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["local"]
    os.environ.update(stage["environment_variables"])
    return resources


def _on_path() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":  # the child of start_process
    server = _server(int(sys.argv[1]))
    server.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes it
    server.stop()
