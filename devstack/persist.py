"""The local stack's state on disk: moto's backends and the pollers' positions, across restarts.

moto keeps everything in memory and has no persistence of its own. The stack pickles the
backends of the services Cohort uses (DynamoDB and its stream, SQS with its in-flight and
delayed messages, SES with its identities and sent emails, SNS, S3 with the imports bucket),
together with what the stack itself must remember (the provisioned names, each stream
poller's last record done), into one file of the state folder:

- on a clean stop (Ctrl-C, SIGTERM), after the pollers and the HTTP server have stopped: a
  consistent cut, nothing lost;
- every SNAPSHOT_SECONDS while something changed (a write to a table, a message sent,
  received or deleted, an email...): a `kill -9` loses at most the changes of the last
  interval plus the time one snapshot takes. Reads (Query, GetRecords, an empty receive)
  change nothing and write nothing: an idle stack does not snapshot.

The file is written beside the old one and renamed over it: a crash mid-write leaves the
previous snapshot whole. A restarted stack loads it before anything reads moto, so every
message keeps its own timing (a delayed step is delivered when it is due, an in-flight one
when its visibility timeout ends) and each stream poller goes on after its last record done.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SERVICES = ("dynamodb", "dynamodbstreams", "sqs", "ses", "sesv2", "sns", "s3")
FILE_NAME = "state.pickle"
FORMAT = 2  # bump when what is saved changes shape (2: the table got gsi4)

# Backend methods that change nothing (besides names starting with get_/list_/describe_/head_).
_READS = {
    "query",
    "scan",
    "batch_get_item",
    "transact_get_items",
    "get_records",
    "get_shard_iterator",
    "receive_message",  # counted only when it returns messages (below)
}

_changes = {"count": 0}
_installed = {"done": False}


def changes() -> int:
    """How many state-changing calls moto has answered (in-process and through its server)."""
    return _changes["count"]


def install() -> None:
    """Make moto's backends picklable and count the calls that change them."""
    if _installed["done"]:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.s3.models import S3Backend
    from moto.ses.models import SESBackend
    from moto.sesv2.models import SESV2Backend
    from moto.sns.models import SNSBackend
    from moto.sqs.models import Queue, SQSBackend

    def queue_state(self: Any) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_messages_lock", None)  # a threading.Condition
        return state

    def queue_restore(self: Any, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._messages_lock = threading.Condition()

    def table_state(self: Any) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_devstack_orders", None)  # devstack.moto_index rebuilds it when a Query needs it
        return state

    Queue.__getstate__ = queue_state  # type: ignore[attr-defined]
    Queue.__setstate__ = queue_restore  # type: ignore[attr-defined]
    Table.__getstate__ = table_state  # type: ignore[attr-defined]

    for backend in (DynamoDBBackend, SQSBackend, SESBackend, SESV2Backend, SNSBackend, S3Backend):
        for name, method in list(vars(backend).items()):
            if name.startswith(("_", "get_", "list_", "describe_", "head_")) or not callable(method):
                continue
            if name in _READS and name != "receive_message":
                continue
            setattr(backend, name, _counted(method, name == "receive_message"))
    _installed["done"] = True


def _counted(method: Callable[..., Any], only_when_found: bool) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        if not only_when_found or result:
            _changes["count"] += 1
        return result

    counted.__name__ = method.__name__
    counted.__doc__ = method.__doc__
    return counted


class Store:
    """One state folder: `load()` at start, `save()` on every snapshot."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / FILE_NAME
        self.last_seconds = 0.0  # how long the last save took (the stack's share of it)
        self.last_bytes = 0
        self._child: int | None = None  # a forked save still running
        self._forked_at = 0.0

    def load(self) -> dict[str, Any] | None:
        """Put the saved backends into moto; returns what the stack saved beside them (None: empty)."""
        if not self.path.exists():
            return None
        from moto.backends import get_backend

        from devstack.moto_index import LOCK

        with self.path.open("rb") as saved_file:
            saved = pickle.load(saved_file)
        if saved.get("format") != FORMAT:
            print(f"devstack: {self.path} is from another version; starting empty", file=sys.stderr)
            return None
        with LOCK:
            for service, accounts in saved["backends"].items():
                backends = get_backend(service)  # type: ignore[call-overload]
                for account, regions in accounts.items():
                    for region, backend in regions.items():
                        backends[account][region] = backend
        return dict(saved["stack"])

    def save(self, stack: dict[str, Any]) -> None:
        """Write the backends and `stack` (the stack's own state) atomically."""
        from devstack.moto_index import LOCK

        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        data = b""
        for attempt in range(4):
            # Without the lock first (requests go on); a dict that changed size meanwhile makes
            # pickle fail, and the last attempt holds DynamoDB's lock (no write meanwhile).
            try:
                if attempt < 3:
                    data = self._dumps(stack)
                else:
                    with LOCK:
                        data = self._dumps(stack)
                break
            except RuntimeError:  # "changed size during iteration": a request ran meanwhile
                time.sleep(0.05)
        if not data:
            raise RuntimeError("moto's state kept changing during four attempts to save it")
        self._write(data)
        self.last_seconds = time.monotonic() - started
        self.last_bytes = len(data)

    @staticmethod
    def _dumps(stack: dict[str, Any]) -> bytes:
        from moto.backends import get_backend

        backends = {
            service: {
                account: dict(regions.items())
                for account, regions in list(get_backend(service).items())  # type: ignore[call-overload]
            }
            for service in SERVICES
        }
        return pickle.dumps(
            {"format": FORMAT, "backends": backends, "stack": stack}, protocol=pickle.HIGHEST_PROTOCOL
        )

    def save_forked(self, stack: dict[str, Any]) -> bool:
        """Save from a forked child: the stack goes on serving while the child pickles.

        pickle holds the GIL for as long as it runs (seconds with a big table), which stalled
        every request and poller of the stack. A child forked while DynamoDB's lock is held gets
        a copy of the whole state at one instant between two DynamoDB operations; it writes the
        file and exits. False (nothing done) where fork does not exist (Windows) or a child is
        still writing the previous snapshot.
        """
        from devstack.moto_index import LOCK

        if not hasattr(os, "fork"):
            return False
        if self._child is not None:
            pid, _status = os.waitpid(self._child, os.WNOHANG)
            if pid == 0:
                return False  # the previous snapshot is still being written
            self._child = None
            self.last_seconds = time.monotonic() - self._forked_at  # how long the child took
        started = time.monotonic()
        with LOCK:
            child = os.fork()
        if child == 0:  # the child: only this thread exists here
            code = 0
            try:
                data = self._dumps(stack)
                self._write(data)
            except BaseException:  # the parent keeps the previous file
                code = 1
            finally:
                os._exit(code)
        self._child = child
        self._forked_at = started
        return True

    def wait(self) -> None:
        """Wait for a forked save still running (before the last save, at stop)."""
        if self._child is not None:
            os.waitpid(self._child, 0)
            self._child = None

    def _write(self, data: bytes) -> None:
        partial = self.path.with_suffix(f".partial{os.getpid()}")
        with partial.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        for partial in self.folder.glob(f"{FILE_NAME.split('.')[0]}.partial*"):
            partial.unlink(missing_ok=True)


class Snapshots:
    """A thread saving the state every `every` seconds when moto's state changed since the last.

    Periodic saves are written by a forked child (`Store.save_forked`): the stack only pays for
    the fork (milliseconds; memory pages are shared until written). A save takes time in
    proportion to the data (in the child, or in the stack where there is no fork), and the pause
    between two saves is at least 4 times the last one: saving takes at most a fifth of a core."""

    def __init__(self, store: Store, stack: Callable[[], dict[str, Any]], every: float) -> None:
        self.store = store
        self._stack = stack
        self._every = every
        self._stop = threading.Event()
        self._saved_at = changes()
        self._thread = threading.Thread(target=self._loop, name="devstack-snapshots", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def save_now(self) -> None:
        seen = changes()
        self.store.save(self._stack())
        self._saved_at = seen

    def stop(self) -> None:
        """Stop the thread and save a last time (call once nothing runs any more)."""
        self._stop.set()
        self._thread.join()
        self.store.wait()
        self.save_now()

    def interval(self) -> float:
        return max(self._every, 4 * self.store.last_seconds)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval()):
            if changes() == self._saved_at:
                continue
            try:
                seen = changes()
                if self.store.save_forked(self._stack()):
                    self._saved_at = seen
                elif not hasattr(os, "fork"):
                    self.save_now()
            except Exception as error:  # a full disk: say it, keep serving
                print(f"devstack: snapshot failed: {error!r}", file=sys.stderr, flush=True)
