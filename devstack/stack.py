"""`make run`: moto in server mode, the resources, the HTTP API and every event source of app.py.

The order matters: AWS settings go into the environment before anything creates a client or
imports the app (boto3 and PynamoDB read AWS_ENDPOINT_URL when a client is made, and app.py
reads COHORT_STREAM_ARN at import); the resources exist before the app's variables name them.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from devstack import settings

PROJECT_DIR = Path(__file__).resolve().parent.parent


def main() -> int:
    # From the start: a Ctrl-C while the stack starts stops it cleanly once it has started.
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    host, moto_port, http_port = settings.HOST, settings.moto_port(), settings.http_port()
    for port, variable in ((moto_port, "MOTO_PORT"), (http_port, "PORT")):
        if not _port_free(host, port):
            print(f"devstack: {host}:{port} is in use; set {variable} to another port", file=sys.stderr)
            return 1
    _aws_environment(settings.moto_url())
    moto = _start_moto(host, moto_port)
    if settings.in_process():
        _share_in_process(settings.moto_url())

    from devstack import persist
    from infra.provision import provision

    store = persist.Store(settings.state_dir())
    loading = time.monotonic()
    saved = store.load()
    if saved is not None:
        resources = saved["resources"]
        print(
            f"devstack: state      {store.path} (restored with {store.replayed} log frames in "
            f"{time.monotonic() - loading:.1f} s; `make reset` starts empty)",
            flush=True,
        )
    else:
        resources = provision()
        print(f"devstack: state      {store.path} (new)", flush=True)
    _app_environment(resources.environment(), resources.stream_arn)
    _verify_senders(settings.ses_identities())
    app, config = _load_app()
    from devstack import clock

    moved = clock.from_environment(
        lambda offset: print(
            f"devstack: clock      moved to {offset.total_seconds():.0f} s ahead", flush=True
        )
    )
    if moved is not None:  # a test lets time pass (never in a deployment: devstack only)
        clock.install(moved)
        print(f"devstack: clock      moved by the seconds in {moved.path}", flush=True)

    from devstack.front import serve

    http = serve(app, config, host, http_port)
    threading.Thread(target=http.run, name="devstack-http", daemon=True).start()

    from devstack.pump import Pump

    pump = Pump(
        app,
        resources,
        sqs_wait_seconds=settings.SQS_WAIT_SECONDS,
        on_invocation=lambda call: print(call.line(), flush=True),
        log=lambda line: print(line, flush=True),
        remember=False,
        resume=None if saved is None else saved.get("checkpoints", {}),
        clock=None if moved is None else moved.now,
    )
    snapshots = persist.Snapshots(
        store,
        lambda: {"resources": resources, "checkpoints": pump.checkpoints()},
        every=settings.SNAPSHOT_SECONDS,
    )
    if saved is None:
        snapshots.save_now()  # the provisioned resources, before anything else happens
    from devstack.heap import Freezer

    freezer = Freezer(persist.changes)
    pump.start()
    snapshots.start()
    freezer.start()
    _banner(pump)

    while not stopping.wait(0.5):  # a timed wait, so the signal handler gets to run
        pass
    print("devstack: stopping", flush=True)
    pump.stop()
    freezer.stop()
    http.close()
    http.front.close()
    saved_how = snapshots.stop()  # the last save: nothing runs any more
    print(f"devstack: saved      {store.folder} ({saved_how})", flush=True)
    moto.stop()
    print("devstack: stopped", flush=True)
    return 0


def _port_free(host: str, port: int) -> bool:
    # ThreadedMotoServer waits forever when its port is taken (the error stays in its thread).
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _aws_environment(endpoint: str) -> None:
    """Every AWS call of this process goes to moto, with fake credentials (never a real account)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=settings.REGION,
        AWS_REGION=settings.REGION,
    )


def _start_moto(host: str, port: int) -> Any:
    from moto.server import ThreadedMotoServer

    from devstack import moto_patches, persist

    moto_patches.install()
    persist.install()
    # Werkzeug logs every request at INFO: the pollers' ReceiveMessage calls would flood the console.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server


def _share_in_process(endpoint: str) -> None:
    """The stack's own calls (handlers, pollers) reach moto in-process, without HTTP.

    moto's in-process mock and its server share one state (moto's backends are module-level),
    so `aws --endpoint-url`, `make emails` and any tool outside still see what the handlers
    wrote, and the handlers what they wrote. S3 stays addressed at the server: the upload URLs
    the app presigns are for clients outside this process.
    """
    from moto import mock_aws

    mock = mock_aws()
    mock.start(reset=False)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint


def _app_environment(provisioned: dict[str, str], stream_arn: str) -> None:
    """The Lambda environment: the local stage of .chalice/config.json, then the resources.

    A variable already set in the shell wins over the config (COHORT_ADMIN_TOKEN=... make run);
    the resources' names always win: they are what exists.
    """
    from chalice.cli.factory import CLIFactory

    config = CLIFactory(str(PROJECT_DIR)).create_config_obj(chalice_stage_name=settings.CHALICE_STAGE)
    defaults = {**config.environment_variables, "COHORT_PUBLIC_BASE_URL": settings.base_url()}
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    os.environ.update(provisioned)
    os.environ["COHORT_STREAM_ARN"] = stream_arn


def _verify_senders(identities: list[str]) -> None:
    import boto3

    ses = boto3.client("ses")
    for identity in identities:
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)


def _load_app() -> tuple[Any, Any]:
    from chalice.cli.factory import CLIFactory

    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    # Imported here, not through config.chalice_app: that would write the config's variables
    # over the environment set above.
    app = importlib.import_module("app").app
    config = CLIFactory(str(PROJECT_DIR)).create_config_obj(chalice_stage_name=settings.CHALICE_STAGE)
    return app, config


def _banner(pump: Any) -> None:
    handlers = [p.source.name for p in [*pump.streams, *pump.queues, *pump.topics]]
    handlers += list(pump.scheduler.next)
    lines = [
        f"devstack: API        {settings.base_url()}/api/v1/health",
        f"devstack: admin      X-Admin-Token: {os.environ.get('COHORT_ADMIN_TOKEN', '(unset)')}",
        f"devstack: moto       {settings.moto_url()}  (aws --endpoint-url {settings.moto_url()} ...)",
        f"devstack: handlers   {', '.join(handlers) or '(none)'}",
        "devstack: emails     make emails        stop: Ctrl-C",
    ]
    print("\n".join(lines), flush=True)
