"""Delivery from the outbox: bounded exponential backoff with jitter, ``Retry-After``, a
minimum interval per sink, and a background thread so that sending never blocks tailing.

Why a thread and not attempts driven from ``tick``: one HTTP attempt may take up to its timeout
(10 s by default) and a receiver that is down may make every attempt do so; ``tail`` must keep
reading meanwhile. The thread owns all sending; the dispatcher only writes the outbox and wakes
it. ``Sender.deliver_due`` is the thread's whole job, callable directly with an injected time,
which is how tests and ``alert-test`` use it without sleeping.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping

from threadwatch.alerts.outbox import Delivery, Outbox
from threadwatch.alerts.settings import DeliveryConfig
from threadwatch.alerts.sinks.base import Sink
from threadwatch.errors import DeliveryError
from threadwatch.safelog import safe_logger

log = safe_logger("threadwatch.alerts")

Clock = Callable[[], float]
MAX_PER_PASS = 20  # per sink: a long backlog must not starve the other sinks


class Sender:
    """Attempts the due deliveries of each sink, in order.

    Args:
        outbox: where the deliveries are.
        sinks: the sinks, by the names the deliveries use.
        intervals: minimum seconds between two attempts per sink (missing: none).
        delivery: backoff and age limits.
        rng: jitter source (inject a seeded one in tests).
    """

    def __init__(self, outbox: Outbox, sinks: Mapping[str, Sink], intervals: Mapping[str, float],
                 delivery: DeliveryConfig, rng: random.Random | None = None) -> None:
        self._outbox = outbox
        self._sinks = dict(sinks)
        self._intervals = dict(intervals)
        self._delivery = delivery
        self._rng = rng or random.Random()
        self._not_before: dict[str, float] = {}

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure: doubling, capped, 50-100 %."""
        base = self._delivery.backoff_initial_seconds * 2.0 ** min(max(attempts - 1, 0), 30)
        capped = min(self._delivery.backoff_max_seconds, base)
        return capped * (0.5 + 0.5 * self._rng.random())

    def deliver_due(self, now: float) -> int:
        """Give up on too-old deliveries, then attempt every due one; return attempts made."""
        expired = self._outbox.expire(now, self._delivery.max_age_seconds)
        if expired:
            log.warning("alerts: %d undelivered notification(s) too old, marked failed", expired)
        attempts = 0
        for name, sink in self._sinks.items():
            for _ in range(MAX_PER_PASS):
                if now < self._not_before.get(name, float("-inf")):
                    break
                delivery = self._outbox.head(name)
                if delivery is None or delivery.next_attempt_at > now:
                    break
                self._not_before[name] = now + self._intervals.get(name, 0.0)
                attempts += 1
                if not self._attempt(name, sink, delivery, now):
                    break
        return attempts

    def _attempt(self, name: str, sink: Sink, delivery: Delivery, now: float) -> bool:
        delivery_id, attempts = delivery.id, delivery.attempts
        try:
            sink.send(delivery.notification)
        except DeliveryError as exc:
            return self._failed(name, delivery_id, attempts + 1, exc, now)
        except Exception as exc:  # a sink bug must not kill the sender: retry it like an outage
            error = DeliveryError(f"sink raised {type(exc).__name__}", retryable=True)
            return self._failed(name, delivery_id, attempts + 1, error, now)
        self._outbox.mark_delivered(delivery_id, now)
        return True

    def _failed(self, name: str, delivery_id: int, attempts: int, exc: DeliveryError,
                now: float) -> bool:
        if not exc.retryable:
            self._outbox.mark_failed(delivery_id, now, exc.problem)
            log.warning("alerts: sink %r refused notification (%s); marked failed", name,
                        exc.problem)
            return True  # the next one may fare better
        delay = self.backoff(attempts)
        if exc.retry_after is not None:
            delay = min(exc.retry_after, self._delivery.retry_after_max_seconds)
        self._outbox.mark_retry(delivery_id, now, now + delay, exc.problem)
        log.info("alerts: sink %r failed (%s); retry in %.0f s", name, exc.problem, delay)
        return False


class BackgroundSender:
    """Runs ``Sender.deliver_due`` on its own daemon thread, about once a second or when woken.

    Args:
        sender: the sender.
        clock: current time (seconds since the epoch).
        poll_seconds: longest real wait between two passes.
    """

    def __init__(self, sender: Sender, clock: Clock, poll_seconds: float = 1.0) -> None:
        self._sender = sender
        self._clock = clock
        self._poll = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="threadwatch-alert-sender",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Something new is in the outbox."""
        self._wake.set()

    def stop(self, timeout: float) -> bool:
        """Ask the thread to stop; return whether it did within ``timeout`` seconds (an attempt
        in flight may take up to its sink's timeout; what is undelivered stays pending)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sender.deliver_due(self._clock())
            except Exception:  # keep sending after a transient state-file error
                log.exception("alerts: delivery pass failed")
            self._wake.wait(self._poll)
            self._wake.clear()
