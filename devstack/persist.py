"""The local stack's state on disk: moto's backends and the pollers' positions, across restarts.

moto keeps everything in memory and has no persistence of its own. The stack keeps, in its
state folder, a *base* and a *log*:

- the base (`state.pickle`) is the whole state at one instant: the backends of the services
  Cohort uses (DynamoDB and its stream, SQS with its in-flight and delayed messages, SES with
  its identities and sent emails, SNS, S3 with the imports bucket) and what the stack itself
  must remember (the provisioned names, each stream poller's last record done). It is written
  by a forked child (the stack goes on serving), beside the old one and renamed over it;
- the log (`state.<generation>.log`) follows the base: every LOG_SECONDS while something
  changed, one frame appended and fsync'ed with only what changed since the previous frame:
  the DynamoDB items written or deleted since (their keys are recorded as moto writes them),
  the stream records added since, the whole backend of any other service that changed (SQS,
  SES, SNS, S3: small), and the stack's own state. Its cost follows the writes of the last
  second, not the size of the tables: a `kill -9` loses at most about LOG_SECONDS (plus the
  write of one frame) whatever the size of the stack.

When the log has grown past the size of the base (or a table was created, deleted or
changed), a new base is written and the log starts again; the old base and its logs are
removed only once the new base is whole, so a crash at any moment leaves a base and the logs
that follow it. A restarted stack loads the base, replays the frames of the logs after it
(a frame cut short by a crash is ignored), before anything reads moto: every message keeps
its own timing and each stream poller goes on after its last record done.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SERVICES = ("dynamodb", "dynamodbstreams", "sqs", "ses", "sesv2", "sns", "s3")
FILE_NAME = "state.pickle"
FORMAT = 3  # bump when what is saved changes shape (2: the table got gsi4; 3: a base and a log)
# DynamoDB backend methods that only change items (the log records the items); any other
# change of DynamoDB (a table created, deleted, updated) makes the next save a new base.
_ITEM_WRITES = {
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "transact_write_items",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
}
# Services saved whole in a log frame when they changed (DynamoDB's items go one by one;
# dynamodbstreams holds only shard iterators, which the pollers ask for again).
_WHOLE_IN_LOG = ("sqs", "ses", "sesv2", "sns", "s3")

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
_changed_services: dict[str, int] = {}
_tables_changed = {"count": 0}
# DynamoDB items written since the last log frame: id(table) -> (table, {(hash, range)}).
_dirty: dict[int, tuple[Any, set[tuple[Any, Any]]]] = {}


def changes() -> int:
    """How many state-changing calls moto has answered (in-process and through its server)."""
    return _changes["count"]


def install() -> None:
    """Make moto's backends picklable and count the calls that change them."""
    if _installed["done"]:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict
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
    # moto's item attributes are a dict whose every insertion sums the whole item again:
    # unpickled key by key, a base of 10,000 contacts took 40 s to load. Rebuilt whole instead.
    LimitedSizeDict.__reduce__ = _limited_reduce  # type: ignore[assignment,method-assign]

    services = {
        DynamoDBBackend: "dynamodb",
        SQSBackend: "sqs",
        SESBackend: "ses",
        SESV2Backend: "sesv2",
        SNSBackend: "sns",
        S3Backend: "s3",
    }
    for backend, service in services.items():
        for name, method in list(vars(backend).items()):
            if name.startswith(("_", "get_", "list_", "describe_", "head_")) or not callable(method):
                continue
            if name in _READS and name != "receive_message":
                continue
            setattr(backend, name, _counted(method, service, name, name == "receive_message"))

    from devstack import moto_index

    touch = moto_index.touch
    if not getattr(touch, "_devstack_persist", False):

        def recorded_touch(table: Any, hash_key: Any, range_key: Any) -> None:
            entry = _dirty.get(id(table))
            if entry is None:
                entry = _dirty[id(table)] = (table, set())
            entry[1].add((hash_key, range_key))
            touch(table, hash_key, range_key)

        recorded_touch._devstack_persist = True  # type: ignore[attr-defined]
        moto_index.touch = recorded_touch  # type: ignore[assignment]
    _installed["done"] = True


def _limited_reduce(self: dict[str, Any]) -> tuple[Any, ...]:
    return (_limited_dict, (dict(self),))


def _limited_dict(values: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    limited = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(limited, values)
    return limited


def _counted(
    method: Callable[..., Any], service: str, name: str, only_when_found: bool
) -> Callable[..., Any]:
    def counted(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        if not only_when_found or result:
            _changes["count"] += 1
            _changed_services[service] = _changed_services.get(service, 0) + 1
            if service == "dynamodb" and name not in _ITEM_WRITES:
                _tables_changed["count"] += 1
        return result

    counted.__name__ = method.__name__
    counted.__doc__ = method.__doc__
    return counted


_FRAME = struct.Struct(">Q")  # each log frame: its length, then its pickle


class Store:
    """One state folder: `load()` at start; `save()` (a base, in this process), `save_forked()`
    (a base, by a child) and `append()` (a log frame) while the stack runs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / FILE_NAME
        self.last_seconds = 0.0  # how long the last base took to write
        self.last_bytes = 0  # its size
        self.log_bytes = 0  # the size of the log since the last base
        self.last_frame_seconds = 0.0  # how long the last frame took to make and write
        self.generation = 0  # the log the frames go to: state.<generation>.log
        self.replayed = 0  # frames replayed by the last load()
        self._child: int | None = None  # a forked save still running
        self.fork_seconds = 0.0  # how long the stack paused for the last fork
        self._child_generation = 0
        self._forked_at = 0.0
        # Stream records already in the log: id(shard) -> the sequence number after the last.
        self._stream_ends: dict[int, int] = {}

    def log_path(self, generation: int) -> Path:
        return self.folder / f"state.{generation}.log"

    # --- loading -----------------------------------------------------------------------------

    def load(self) -> dict[str, Any] | None:
        """Put the saved backends into moto; returns what the stack saved beside them (None: empty)."""
        if not self.path.exists():
            self._drop_logs_before(sys.maxsize)  # logs without their base: never replayed later
            return None
        # Millions of small objects are made here: the cyclic GC, run again and again over all
        # of them as they appear, made a load 6 times slower. Off while loading; what was
        # loaded is then frozen out of the later full collections (it lives as long as the stack).
        gc.disable()
        try:
            return self._load()
        finally:
            gc.enable()
            gc.freeze()

    def _load(self) -> dict[str, Any] | None:
        from moto.backends import get_backend

        from devstack.moto_index import LOCK

        with self.path.open("rb") as saved_file:
            saved = pickle.load(saved_file)
        self.last_bytes = self.path.stat().st_size
        if saved.get("format") != FORMAT:
            print(f"devstack: {self.path} is from another version; starting empty", file=sys.stderr)
            self._drop_logs_before(sys.maxsize)
            return None
        stack = dict(saved["stack"])
        with LOCK:
            for service, accounts in saved["backends"].items():
                backends = get_backend(service)  # type: ignore[call-overload]
                for account, regions in accounts.items():
                    for region, backend in regions.items():
                        backends[account][region] = backend
            self.replayed = 0
            generation = int(saved["log"])
            for path in self._logs_from(generation):
                for frame in _frames(path):
                    stack = _replay(frame)
                    self.replayed += 1
                generation = max(generation, _generation_of(path))
                self.log_bytes += path.stat().st_size  # a long log makes the next base due sooner
        self.generation = generation + 1  # a new log: never append after a frame cut short
        self._stream_ends = _stream_ends()
        _dirty.clear()
        return stack

    def _logs_from(self, generation: int) -> list[Path]:
        found = [p for p in self.folder.glob("state.*.log") if _generation_of(p) >= generation]
        return sorted(found, key=_generation_of)

    # --- a base ------------------------------------------------------------------------------

    def save(self, stack: dict[str, Any]) -> None:
        """Write a base of the backends and `stack` (the stack's own state), in this process."""
        from devstack.moto_index import LOCK

        started = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        data = b""
        with LOCK:  # the dirty items and stream ends must match the base exactly
            generation = self._rotate()
        for attempt in range(4):
            # Without the lock first (requests go on); a dict that changed size meanwhile makes
            # pickle fail, and the last attempt holds DynamoDB's lock (no write meanwhile).
            try:
                if attempt < 3:
                    data = self._dumps(stack, generation)
                else:
                    with LOCK:
                        data = self._dumps(stack, generation)
                break
            except RuntimeError:  # "changed size during iteration": a request ran meanwhile
                time.sleep(0.05)
        if not data:
            raise RuntimeError("moto's state kept changing during four attempts to save it")
        self._write(data)
        self._drop_logs_before(generation)
        self.last_seconds = time.monotonic() - started
        self.last_bytes = len(data)

    def _rotate(self) -> int:
        """Start a new log (hold LOCK): the frames after this instant go there, and the base
        about to be written holds everything before it."""
        self.generation += 1
        self.log_bytes = 0
        _dirty.clear()
        self._stream_ends = _stream_ends()
        return self.generation

    @staticmethod
    def _dumps(stack: dict[str, Any], generation: int) -> bytes:
        from moto.backends import get_backend

        backends = {
            service: {
                account: dict(regions.items())
                for account, regions in list(get_backend(service).items())  # type: ignore[call-overload]
            }
            for service in SERVICES
        }
        return pickle.dumps(
            {"format": FORMAT, "backends": backends, "stack": stack, "log": generation},
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def save_forked(self, stack: dict[str, Any]) -> bool:
        """Write a base from a forked child: the stack goes on serving while the child pickles.

        pickle holds the GIL for as long as it runs (seconds with a big table), which stalled
        every request and poller of the stack. A child forked while DynamoDB's lock is held gets
        a copy of the whole state at one instant between two DynamoDB operations; it writes the
        file and exits. The frames written meanwhile go to a new log, which follows the new
        base; the older logs are removed once the child has succeeded (until then the old base
        and every log after it still hold the whole state). False (nothing done) where fork
        does not exist (Windows) or a child is still writing the previous base.
        """
        from devstack.moto_index import LOCK

        if not hasattr(os, "fork") or not self.reap():
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with LOCK:
            generation = self._rotate()
            child = os.fork()
        self.fork_seconds = time.monotonic() - started
        if child == 0:  # the child: only this thread exists here
            code = 0
            try:
                data = self._dumps(stack, generation)
                self._write(data)
            except BaseException:  # the parent keeps the previous file
                code = 1
            finally:
                os._exit(code)
        self._child = child
        self._child_generation = generation
        self._forked_at = started
        return True

    def reap(self, wait: bool = False) -> bool:
        """Whether no child is writing a base any more (`wait`: until it is done)."""
        if self._child is None:
            return True
        pid, status = os.waitpid(self._child, 0 if wait else os.WNOHANG)
        if pid == 0:
            return False
        self._child = None
        if os.waitstatus_to_exitcode(status) == 0:
            self.last_seconds = time.monotonic() - self._forked_at  # how long the child took
            self.last_bytes = self.path.stat().st_size
            self._drop_logs_before(self._child_generation)
        return True

    def abandon(self) -> None:
        """Stop a forked save still running (at stop: with 100,000 contacts a base takes a
        minute or more to write). Nothing is lost: the base before it and every log after that
        base stay until a new base is whole; a base the child finished meanwhile is kept."""
        if self._child is None:
            return
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.kill(self._child, signal.SIGKILL)
        self.reap(wait=True)
        self._drop_partials()

    def _drop_logs_before(self, generation: int) -> None:
        for path in self.folder.glob("state.*.log"):
            if _generation_of(path) < generation:
                path.unlink(missing_ok=True)

    # --- a log frame -------------------------------------------------------------------------

    def append(self, stack: dict[str, Any]) -> int:
        """Append to the log what changed since the last frame (or base); returns its bytes."""
        from moto.backends import get_backend

        from devstack.moto_index import LOCK

        started = time.monotonic()
        services = dict(_changed_services)
        changed = [s for s in _WHOLE_IN_LOG if services.get(s) != self._seen_services.get(s)]
        data = b""
        for _attempt in range(4):
            # Under DynamoDB's lock (no DynamoDB write meanwhile): items, stream records and the
            # other services at one instant, as near as their own threads allow.
            with LOCK:
                try:
                    whole = {
                        service: {
                            account: dict(regions.items())
                            for account, regions in list(get_backend(service).items())  # type: ignore[call-overload]
                        }
                        for service in changed
                    }
                    rest = pickle.dumps((whole, stack), protocol=pickle.HIGHEST_PROTOCOL)
                except RuntimeError:  # an SQS message sent meanwhile: again
                    continue
                items, streams = self._dynamodb_changes()
                data = pickle.dumps((items, streams, rest), protocol=pickle.HIGHEST_PROTOCOL)
                break
        if not data:
            raise RuntimeError("moto's state kept changing during four attempts to log it")
        self._seen_services = services
        frame = data
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.log_path(self.generation).open("ab") as log:
            log.write(_FRAME.pack(len(frame)) + frame)
            log.flush()
            os.fsync(log.fileno())
        self.log_bytes += _FRAME.size + len(frame)
        self.last_frame_seconds = time.monotonic() - started
        return _FRAME.size + len(frame)

    _seen_services: dict[str, int] = {}

    def _dynamodb_changes(self) -> tuple[list[Any], list[Any]]:
        """(hold LOCK) The items written since the last frame, each with where it lives, and
        the stream records added since; the dirty set starts again."""
        items = []
        shards: dict[int, Any] = {}
        for table, keys in list(_dirty.values()):
            where = (table.account_id, table.region_name, table.name)
            for hash_key, range_key in keys:
                found = table.items.get(hash_key)
                item = found.get(range_key) if table.range_key_attr and found is not None else found
                items.append((where, hash_key, range_key, item))
            if table.stream_shard is not None:
                shards[id(table.stream_shard)] = (where, table.stream_shard)
        _dirty.clear()
        streams = []
        for shard_id, (where, shard) in shards.items():
            end = shard.starting_sequence_number + len(shard.items)
            after = self._stream_ends.get(shard_id, shard.starting_sequence_number)
            after = max(after, shard.starting_sequence_number)
            added = shard.items[after - shard.starting_sequence_number :]
            streams.append((where, shard.starting_sequence_number, after, added))
            self._stream_ends[shard_id] = end
        return items, streams

    def _drop_partials(self) -> None:
        """Bases written only in part (`_write` names them after the writing process)."""
        for partial in self.folder.glob(f"{self.path.stem}.partial*"):
            partial.unlink(missing_ok=True)

    def _write(self, data: bytes) -> None:
        partial = self.path.with_suffix(f".partial{os.getpid()}")
        with partial.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        self._drop_partials()
        for log in self.folder.glob("state.*.log"):
            log.unlink(missing_ok=True)


def _generation_of(path: Path) -> int:
    return int(path.name.split(".")[1])


def _stream_ends() -> dict[int, int]:
    """(hold LOCK) Where each table's stream ends now: id(shard) -> next sequence number."""
    from moto.backends import get_backend

    ends = {}
    for regions in get_backend("dynamodb").values():  # type: ignore[call-overload]
        for backend in regions.values():
            for table in backend.tables.values():
                shard = table.stream_shard
                if shard is not None:
                    ends[id(shard)] = shard.starting_sequence_number + len(shard.items)
    return ends


def _frames(path: Path) -> list[Any]:
    """The whole frames of a log (a frame cut short by a crash, and what follows, is ignored)."""
    frames = []
    data = path.read_bytes()
    at = 0
    while at + _FRAME.size <= len(data):
        (size,) = _FRAME.unpack_from(data, at)
        if at + _FRAME.size + size > len(data):
            break
        try:
            frames.append(pickle.loads(data[at + _FRAME.size : at + _FRAME.size + size]))
        except Exception:  # a frame written only in part: the crash came here
            break
        at += _FRAME.size + size
    return frames


def _replay(frame: Any) -> dict[str, Any]:
    """Apply one frame to moto's backends; returns the stack's own state it holds."""
    from moto.backends import get_backend

    items, streams, rest = frame
    whole, stack = pickle.loads(rest)
    dynamodb = get_backend("dynamodb")  # type: ignore[call-overload]
    for (account, region, name), hash_key, range_key, item in items:
        table = dynamodb[account][region].tables.get(name)
        if table is None:
            continue
        if table.range_key_attr is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is None:
            partition = table.items.get(hash_key)
            if partition is not None:
                partition.pop(range_key, None)
                if not partition:
                    table.items.pop(hash_key, None)
        else:
            table.items[hash_key][range_key] = item
    for (account, region, name), start, after, added in streams:
        table = dynamodb[account][region].tables.get(name)
        if table is None or table.stream_shard is None:
            continue
        shard = table.stream_shard
        kept = shard.items[: max(0, after - shard.starting_sequence_number)]
        records = kept + list(added)
        first = shard.starting_sequence_number
        if after < first:  # the base already dropped records the frame still starts before
            records = list(added)[first - after :]
        drop = max(0, start - first)
        shard.items = records[drop:]
        shard.starting_sequence_number = max(start, first)
    for service, accounts in whole.items():
        backends = get_backend(service)  # type: ignore[call-overload]
        for account, regions in accounts.items():
            for region, backend in regions.items():
                backends[account][region] = backend
    return dict(stack)


class Snapshots:
    """A thread that logs what changed every `every` seconds, and writes a new base when the
    log has grown past the base (or a table was created, deleted or changed).

    A frame costs what changed since the last one (milliseconds to a few hundred for an
    import's second of writes); a base is written by a forked child (`Store.save_forked`):
    the stack only pays for the fork (memory pages are shared until written)."""

    def __init__(self, store: Store, stack: Callable[[], dict[str, Any]], every: float) -> None:
        self.store = store
        self._stack = stack
        self._every = every
        self._stop = threading.Event()
        self._saved_at = changes()
        self._tables_at = _tables_changed["count"]
        self._thread = threading.Thread(target=self._loop, name="devstack-snapshots", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def save_now(self) -> None:
        seen, tables = changes(), _tables_changed["count"]
        self.store.save(self._stack())
        self._saved_at, self._tables_at = seen, tables

    def stop(self) -> str:
        """Stop the thread and log a last frame (call once nothing runs any more): the base and
        its log hold the rest, so a stop takes a frame's time whatever the size of the stack
        (a whole base of 100,000 contacts took minutes). A base is written only when there is
        none yet or a table changed since (the log holds items, not tables)."""
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join()
        self.store.abandon()
        if self.store.path.exists() and _tables_changed["count"] == self._tables_at:
            size = self.store.append(self._stack())
            return f"a last log frame of {size / 1e6:.1f} MB in {self.store.last_frame_seconds:.1f} s"
        self.save_now()
        return f"{self.store.last_bytes / 1e6:.1f} MB in {self.store.last_seconds:.1f} s"

    def _base_due(self) -> bool:
        return _tables_changed["count"] != self._tables_at or self.store.log_bytes > max(
            MIN_LOG_BYTES, self.store.last_bytes
        )

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self.store.reap()  # a base written meanwhile: drop the logs it holds
                if changes() == self._saved_at:
                    continue
                seen, tables = changes(), _tables_changed["count"]
                stack = self._stack()  # first: what a poller has done is in what is saved after
                if self._base_due() and self.store.reap():  # not while a child still writes
                    if self.store.save_forked(stack):
                        self._saved_at, self._tables_at = seen, tables
                        if self.store.fork_seconds > SLOW_FRAME_SECONDS:
                            print(
                                f"devstack: state base: fork took {self.store.fork_seconds:.1f} s", flush=True
                            )
                        continue
                    if not hasattr(os, "fork"):
                        self.save_now()
                        continue
                size = self.store.append(stack)
                self._saved_at = seen
                if self.store.last_frame_seconds > SLOW_FRAME_SECONDS:
                    print(
                        f"devstack: state log frame of {size / 1e6:.1f} MB took "
                        f"{self.store.last_frame_seconds:.1f} s",
                        flush=True,
                    )
            except Exception as error:  # a full disk: say it, keep serving
                print(f"devstack: snapshot failed: {error!r}", file=sys.stderr, flush=True)


SLOW_FRAME_SECONDS = 0.5  # a frame slower than this is said on the console
# The log is replaced by a new base once it is bigger than the base and than this.
MIN_LOG_BYTES = 8_000_000
