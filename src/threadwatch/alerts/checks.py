"""``threadwatch alert-test``: send one test alert through each configured sink, now."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from threadwatch.alerts.model import Alert, AlertReason, Notification, Status, Transition
from threadwatch.alerts.settings import AlertsConfig
from threadwatch.alerts.sinks import build_sink
from threadwatch.errors import DeliveryError, SinkConfigError, ThreadwatchError


@dataclass(frozen=True)
class SinkCheck:
    """Whether a sink accepted the test alert, and if not, why (never its URL)."""

    sink: str
    accepted: bool
    detail: str


def sample_notification(now: float, host: str) -> Notification:
    """The notification ``alert-test`` sends (a firing alert marked as a test)."""
    alert = Alert(
        key="test:alert-test", rule="alert-test", status=Status.FIRING,
        transition=Transition.TEST, level="yellow", scope="threadwatch alert-test",
        summary="threadwatch test alert: this sink works (no action needed)", starts_at=now,
        reasons=(AlertReason("test", "event", 1, ">=", 1, "alert-test", "a test alert"),),
        samples=("run_batt.py:123: -- System overloaded (64 threads), using sequential "
                 "processing <!channel> & co",),
    )
    return Notification((alert,), now, host)


def send_test_alert(config: AlertsConfig, env: Mapping[str, str], sink: str | None = None,
                    clock: Callable[[], float] = time.time) -> list[SinkCheck]:
    """Send a test alert through every sink (or the one named), directly, not via the outbox.

    Raises:
        ThreadwatchError: no sinks are configured, or ``sink`` is not one of them.
    """
    if not config.sinks:
        raise ThreadwatchError("no alert sinks configured ([alerts.sinks.NAME] tables)")
    if sink is not None and sink not in config.sinks:
        raise ThreadwatchError(
            f"no alert sink named {sink!r}; configured: {', '.join(sorted(config.sinks))}")
    names = [sink] if sink is not None else list(config.sinks)
    notification = sample_notification(clock(), config.host or socket.gethostname())
    checks = []
    for name in names:
        try:
            target = build_sink(name, config.sinks[name], env)
        except SinkConfigError as exc:
            checks.append(SinkCheck(name, False, exc.problem))
            continue
        try:
            target.send(notification)
        except DeliveryError as exc:
            checks.append(SinkCheck(name, False, exc.problem))
        else:
            checks.append(SinkCheck(name, True, "accepted"))
        finally:
            target.close()
    return checks
