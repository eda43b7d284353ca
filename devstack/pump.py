"""The Pump: every stream, queue and schedule handler of a Chalice app, fed as Lambda feeds them.

Two ways to drive it, same code underneath:
- tests call `drain()` (synchronously, against in-process moto): it polls every stream and
  queue until a whole round invokes nothing, so work that handlers cause (a write that
  reaches the stream, a message a handler sends) is delivered too;
- the local stack calls `start()`/`stop()`: one thread per stream and queue, one for the
  schedules, each printing a line per invocation.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime

import boto3
from chalice import Chalice

from devstack import aws, settings
from devstack.events import LambdaContext
from devstack.invoke import Invocation
from devstack.queues import QueuePoller
from devstack.schedules import Scheduler
from devstack.sources import QueueSource, ScheduleSource, StreamSource, TopicSource, bind
from devstack.streams import StreamPoller
from devstack.topics import TopicPoller
from infra.provision import Provisioned

_DRAIN_NAP = 0.05  # between idle rounds of a drain that waits for delayed messages


class Pump:
    def __init__(
        self,
        app: Chalice,
        resources: Provisioned,
        *,
        stage: str = settings.CHALICE_STAGE,
        retry_delay: int = settings.SQS_RETRY_DELAY_SECONDS,
        sqs_wait_seconds: int = 0,
        lambda_timeout: int = 60,
        on_invocation: Callable[[Invocation], None] | None = None,
        log: Callable[[str], None] | None = None,
        session: boto3.session.Session | None = None,
        remember: bool = True,
        resume: dict[str, dict[str, str]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`retry_delay`: seconds before a failed SQS message is delivered again (0 in tests).
        `remember`: keep every invocation in `self.invocations` (the long-running stack does not).
        `resume`: `checkpoints()` of the stack this one restarts (devstack.persist).
        `clock`: a moved clock for the schedules (devstack/clock.py); they then look at it
        every second, so a move brings the due ones at once.
        """
        self.invocations: list[Invocation] = []
        self._remember = remember
        self._on_invocation = on_invocation
        self._log = log or (lambda _line: None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Region and account of the provisioned resources, for ARNs in contexts and events.
        _, _, _, region, account, _ = resources.attrs[(settings.TABLE, "Arn")].split(":", 5)

        def context(name: str) -> LambdaContext:
            function = f"{app.app_name}-{stage}-{name}"  # Chalice's naming of the function
            return LambdaContext(function, timeout_seconds=lambda_timeout, region=region, account_id=account)

        streams, sqs = aws.client("dynamodbstreams", session), aws.client("sqs", session)
        sources = bind(app, resources)
        self.streams = [
            StreamPoller(
                source,
                streams=streams,
                sqs=sqs,
                failure_queue_url=resources.refs.get(settings.STREAM_FAILURE_QUEUE),
                context=context,
                log=self._log,
                refresh_seconds=settings.STREAM_SHARD_REFRESH_SECONDS,
                resume=None if resume is None else resume.get(source.name, {}),
            )
            for source in sources
            if isinstance(source, StreamSource)
        ]
        self.queues = [
            QueuePoller(
                source, sqs=sqs, context=context, retry_delay=retry_delay, wait_seconds=sqs_wait_seconds
            )
            for source in sources
            if isinstance(source, QueueSource)
        ]
        sns = aws.client("sns", session)
        self.topics = [
            TopicPoller(source, sns=sns, sqs=sqs, context=context, retry_delay=retry_delay)
            for source in sources
            if isinstance(source, TopicSource)
        ]
        schedules = [source for source in sources if isinstance(source, ScheduleSource)]
        self.scheduler = Scheduler(schedules, context=context, log=self._log, clock=clock)
        self._schedule_nap = 60.0 if clock is None else 1.0

    # --- synchronous: tests -----------------------------------------------------------------

    def poll_once(self, honour_windows: bool = False) -> list[Invocation]:
        """One round: each stream and queue poller reads and invokes at most once (per shard)."""
        calls: list[Invocation] = []
        for poller in [*self.streams, *self.queues, *self.topics]:
            calls.extend(self._record(poller.poll(honour_windows)))
        return calls

    def drain(self, wait: float = 0.0, max_rounds: int = 200) -> list[Invocation]:
        """Deliver until nothing is pending; returns the invocations made, in order.

        Batching windows are not waited for. A delayed SQS message (DelaySeconds) is not
        pending until due: with `wait` > 0 the drain waits up to that many seconds for such
        messages (or failed ones whose retry delay runs) before it gives up on them.
        Raises RuntimeError when work is still coming after `max_rounds` rounds (handlers
        that feed each other forever).
        """
        deadline = time.monotonic() + wait
        calls: list[Invocation] = []
        for _ in range(max_rounds):
            made = self.poll_once()
            calls.extend(made)
            if made:
                continue
            if time.monotonic() >= deadline or not any(q.waiting() for q in [*self.queues, *self.topics]):
                return calls
            time.sleep(_DRAIN_NAP)
        raise RuntimeError(f"the pump was still busy after {max_rounds} rounds ({len(calls)} invocations)")

    def invoke_schedule(self, name: str) -> Invocation:
        """Fire one `schedule` handler now, whatever its timetable says."""
        return self._record([self.scheduler.invoke(name)])[0]

    def run_due_schedules(self, now: datetime | None = None) -> list[Invocation]:
        """Fire the schedules due at `now` (default: the current time)."""
        return self._record(self.scheduler.run_due(now))

    def checkpoints(self) -> dict[str, dict[str, str]]:
        """Each stream handler's last record done per shard (saved with the stack's state)."""
        return {poller.source.name: poller.checkpoints() for poller in self.streams}

    # --- threads: the local stack -----------------------------------------------------------

    def start(self) -> None:
        """One daemon thread per stream and queue poller, one for the schedules."""
        self._stop.clear()
        for poller in self.streams:
            self._spawn(
                f"stream:{poller.source.name}",
                lambda p=poller: self._poll_loop(p, settings.STREAM_POLL_SECONDS),
            )
        for poller in self.queues:
            # The long poll of ReceiveMessage is the wait; the pause only spaces out errors.
            self._spawn(f"sqs:{poller.source.name}", lambda p=poller: self._poll_loop(p, 0.0))
        for topic in self.topics:
            self._spawn(
                f"sns:{topic.source.name}",
                lambda t=topic: self._poll_loop(t, settings.STREAM_POLL_SECONDS),
            )
        if self.scheduler.next:
            self._spawn("schedules", self._schedule_loop)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"devstack-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _poll_loop(self, poller: StreamPoller | QueuePoller | TopicPoller, idle_pause: float) -> None:
        while not self._stop.is_set():
            try:
                made = self._record(poller.poll(honour_window=True))
            except Exception as error:  # moto restarting, a bug of ours: report, keep polling
                print(f"devstack: {poller.source.name} poller: {error!r}", file=sys.stderr, flush=True)
                self._stop.wait(1.0)
                continue
            if not made and idle_pause:
                self._stop.wait(idle_pause)

    def _schedule_loop(self) -> None:
        while not self._stop.is_set():
            self.run_due_schedules()
            pause = self.scheduler.seconds_until_next()
            nap = self._schedule_nap
            self._stop.wait(min(pause if pause is not None else nap, nap))

    def _record(self, calls: list[Invocation]) -> list[Invocation]:
        if self._remember:
            with self._lock:
                self.invocations.extend(calls)
        if self._on_invocation is not None:
            for call in calls:
                self._on_invocation(call)
        return calls
