"""Delivery from the outbox: bounded exponential backoff with jitter, ``Retry-After``, a
minimum interval per sink, and one background thread per sink so that sending never blocks
tailing, and one sink never waits for another.

Why threads and not attempts driven from ``tick``: one HTTP attempt may take up to its sink's
timeout (10 s by default; the whole request is bounded by it, see ``sinks/deadline.py``) and a
receiver that is down may make every attempt do so; ``tail`` must keep reading meanwhile. Why
one thread per sink: a receiver that answers slowly would otherwise hold back every other sink
for as long as it takes. Each ``SinkSender`` owns all sending to its sink; the dispatcher only
writes the outbox and wakes them. ``SinkSender.deliver_due`` is a thread's whole job, callable
directly with an injected time, which is how tests use it without sleeping (``Sender`` runs
every sink's in turn).

A sink that starts failing is said once on stderr (``alerts: sink 'NAME' failing: <reason>;
will retry``) and its recovery once (``... delivering again after N failed attempts``), not
every attempt; ``SinkState`` holds the same for a view to show.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from threadwatch.alerts.outbox import Delivery, Outbox
from threadwatch.alerts.settings import DeliveryConfig
from threadwatch.alerts.sinks.base import Resyncing, Sink
from threadwatch.errors import DeliveryError, OutboxError
from threadwatch.logs import get_logger

log = get_logger("threadwatch.alerts")

Clock = Callable[[], float]
MAX_PER_PASS = 20  # per sink and pass: a long backlog is worked off between stop checks


@dataclass(frozen=True)
class SinkState:
    """How delivery to one sink is going.

    Attributes:
        sink: the sink's name.
        failing_since: when the first of the current run of failed attempts was made, or None
            while the sink is fine.
        failed_attempts: failed attempts since the last successful one.
        last_error: the last failed attempt's reason (never a URL or secret), or None.
        last_delivered_at: when a notification was last accepted, or None.
    """

    sink: str
    failing_since: float | None = None
    failed_attempts: int = 0
    last_error: str | None = None
    last_delivered_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.failing_since is None


def _attempts(n: int) -> str:
    return f"{n} failed attempt{'' if n == 1 else 's'}"


class SinkSender:
    """Attempts the due deliveries of one sink, in order.

    Args:
        outbox: where the deliveries are.
        name: the sink's name, as the deliveries use it.
        sink: the sink.
        interval: minimum seconds between two attempts.
        delivery: backoff and age limits.
        rng: jitter source (inject a seeded one in tests).
    """

    def __init__(self, outbox: Outbox, name: str, sink: Sink, interval: float,
                 delivery: DeliveryConfig, *, rng: random.Random | None = None) -> None:
        self._outbox = outbox
        self.name = name
        self._sink = sink
        self._interval = interval
        self._delivery = delivery
        self._rng = rng or random.Random()
        self._not_before = float("-inf")
        self.state = SinkState(name)  # replaced, never changed: safe to read from any thread

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure: doubling, capped, 50-100 %."""
        base = self._delivery.backoff_initial_seconds * 2.0 ** min(max(attempts - 1, 0), 30)
        capped = min(self._delivery.backoff_max_seconds, base)
        return capped * (0.5 + 0.5 * self._rng.random())

    def deliver_due(self, now: float, stop: threading.Event | None = None) -> int:
        """Give up on this sink's too-old deliveries, then attempt the due ones in order
        (at most ``MAX_PER_PASS``, none once ``stop`` is set); return attempts made."""
        expired = self._outbox.expire(now, self._delivery.max_age_seconds, self.name)
        if expired:
            log.warning("alerts: %d undelivered notification(s) to sink '%s' too old, marked"
                        " failed", expired, self.name)
        attempts = 0
        while attempts < MAX_PER_PASS:
            if (stop is not None and stop.is_set()) or now < self._not_before:
                break
            delivery = self._outbox.head(self.name)
            if delivery is None:  # nothing waiting: the sink's state may be re-posted
                if isinstance(self._sink, Resyncing):
                    self._resync(self._sink, now)
                break
            if delivery.next_attempt_at > now:
                break
            self._not_before = now + self._interval
            attempts += 1
            if not self._attempt(delivery, now):
                break
        return attempts

    def _resync(self, sink: Resyncing, now: float) -> None:
        try:
            sink.resync(now)
        except DeliveryError as exc:  # the queue's attempts say when the sink is failing
            log.info("alerts: sink '%s': re-posting its alerts failed (%s)", self.name,
                     exc.problem)
        except Exception as exc:  # a sink bug must not kill the sender
            log.info("alerts: sink '%s': re-posting raised %s", self.name, type(exc).__name__)

    def _attempt(self, delivery: Delivery, now: float) -> bool:
        try:
            self._sink.send(delivery.notification)
        except DeliveryError as exc:
            return self._failed(delivery, exc, now)
        except Exception as exc:  # a sink bug must not kill the sender: retry it like an outage
            error = DeliveryError(f"sink raised {type(exc).__name__}", retryable=True)
            return self._failed(delivery, error, now)
        self._outbox.mark_delivered(delivery.id, now)
        if not self.state.ok:
            log.warning("alerts: sink '%s' delivering again after %s", self.name,
                        _attempts(self.state.failed_attempts))
        self.state = SinkState(self.name, last_delivered_at=now)
        return True

    def _failed(self, delivery: Delivery, exc: DeliveryError, now: float) -> bool:
        if not exc.retryable:
            self._outbox.mark_failed(delivery.id, now, exc.problem)
            # each refusal loses a notification, so each is said
            log.warning("alerts: sink '%s' refused notification #%s (%s); marked failed",
                        self.name, delivery.notification.number, exc.problem)
            return True  # the next one may fare better
        delay = self.backoff(delivery.attempts + 1)
        if exc.retry_after is not None:
            delay = min(exc.retry_after, self._delivery.retry_after_max_seconds)
        self._outbox.mark_retry(delivery.id, now, now + delay, exc.problem)
        state = self.state
        if state.ok:
            log.warning("alerts: sink '%s' failing: %s; will retry", self.name, exc.problem)
        else:
            log.info("alerts: sink '%s' still failing (%s); retry in %.0f s", self.name,
                     exc.problem, delay)
        self.state = SinkState(self.name, state.failing_since if not state.ok else now,
                               state.failed_attempts + 1, exc.problem, state.last_delivered_at)
        return False


class Sender:
    """Every sink's ``SinkSender``, run in turn from one thread (tests, one-shot use).

    Args:
        outbox: where the deliveries are.
        sinks: the sinks, by the names the deliveries use.
        intervals: minimum seconds between two attempts per sink (missing: none).
        delivery: backoff and age limits.
        rng: jitter source (inject a seeded one in tests).
    """

    def __init__(self, outbox: Outbox, sinks: Mapping[str, Sink], intervals: Mapping[str, float],
                 delivery: DeliveryConfig, rng: random.Random | None = None) -> None:
        rng = rng or random.Random()
        self.sinks = [SinkSender(outbox, name, sink, intervals.get(name, 0.0), delivery, rng=rng)
                      for name, sink in sinks.items()]

    def deliver_due(self, now: float) -> int:
        """Attempt every sink's due deliveries; return attempts made."""
        return sum(sender.deliver_due(now) for sender in self.sinks)

    def states(self) -> list[SinkState]:
        """How each sink is doing, in configuration order."""
        return [sender.state for sender in self.sinks]


class BackgroundSender:
    """Runs one ``SinkSender`` on its own daemon thread, about once a second or when woken.

    Args:
        sender: the sink's sender.
        clock: current time (seconds since the epoch).
        poll_seconds: longest real wait between two passes.
    """

    def __init__(self, sender: SinkSender, clock: Clock, poll_seconds: float = 1.0) -> None:
        self._sender = sender
        self._clock = clock
        self._poll = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"threadwatch-alert-sender-{sender.name}")

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Something new is in the outbox."""
        self._wake.set()

    def request_stop(self) -> None:
        """Ask the thread to stop after the attempt in flight (which its deadline bounds)."""
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread; return whether it has stopped."""
        self._thread.join(max(timeout, 0.0))
        return not self._thread.is_alive()

    def _run(self) -> None:
        waiting = False  # the state file refused a write: said once, tried again every pass
        while not self._stop.is_set():
            try:
                self._sender.deliver_due(self._clock(), self._stop)
                waiting = False
            except OutboxError as exc:  # locked by another process, read-only, removed
                if not waiting:
                    log.warning("alerts: %s; deliveries to sink '%s' wait until it can be"
                                " written", exc, self._sender.name)
                waiting = True
            except Exception:  # keep sending after any other error
                log.exception("alerts: delivery pass to sink '%s' failed", self._sender.name)
            self._wake.wait(self._poll)
            self._wake.clear()


def stop_all(senders: Sequence[BackgroundSender], timeout: float) -> bool:
    """Ask every thread to stop, then wait for all of them together at most ``timeout``
    seconds; return whether all stopped."""
    for sender in senders:
        sender.request_stop()
    deadline = time.monotonic() + timeout
    return all([sender.join(deadline - time.monotonic()) for sender in senders])
