"""Per-sink routing: which alerts of a notification each sink is sent.

An ``[alerts.sinks.NAME]`` table may narrow what its sink gets:

    min_level = "red"            # "yellow" or "red"; default: [alerts] min_level
    scopes = ["*/host16/*", "total"]   # globs over a source's path or file name, or "total"
    rules = ["memory-error"]     # alert rules by name ("level" or an [[alerts.events]] name)

An alert that starts (fires, escalates, repeats) goes to a sink when it passes all three. Once
a sink has been told an alert fires, it is told how that alert goes -- repeats at a lower level
too, and its resolution -- until it resolves, so a red-only sink never keeps an alert open that
stepped down to yellow before it resolved; a resolution goes to no sink that was not told.
The first alert a sink gets of an episode is *firing* for it (an escalation to red is the
first a red-only sink hears). Which sinks were told of each firing alert is saved in the state
file with the notifications (``alert_routed``), so it survives a restart.

A notification is split into one per distinct set of alerts: each sink gets its own alerts
only, a sink with none gets nothing, and alerts no sink gets are still stored (with no
delivery), so ``threadwatch alerts`` lists them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from threadwatch.alerts.model import Alert, Notification, Status, Transition
from threadwatch.alerts.settings import AlertsConfig
from threadwatch.alerts.sinks.registry import SinkSettings

Route = tuple[Notification, tuple[str, ...]]  # a notification and the sinks it goes to


def _label_rank(label: str) -> int:
    return 2 if label == "red" else 1


def routes_to(settings: SinkSettings, alert: Alert, min_level: str) -> bool:
    """Whether a starting ``alert`` passes a sink's ``min_level``, ``scopes`` and ``rules``
    (``min_level``: the sink's, or the ``[alerts]`` one)."""
    if _label_rank(alert.level) < _label_rank(min_level):
        return False
    if settings.rules and alert.rule not in settings.rules:
        return False
    name = os.path.basename(alert.scope)
    return any(fnmatchcase(alert.scope, glob) or fnmatchcase(name, glob)
               for glob in settings.scopes)


class Router:
    """Splits notifications by sink.

    Args:
        config: the ``[alerts]`` settings (the sinks' routing keys).
        sinks: the sinks' names, in the order deliveries are made.
        told: per sink, the keys of firing alerts it was sent (from the state file).
    """

    def __init__(self, config: AlertsConfig, sinks: Iterable[str],
                 told: Mapping[str, Iterable[str]]) -> None:
        self._sinks = list(sinks)
        self._settings = {name: config.sinks[name] for name in self._sinks
                          if name in config.sinks}
        self._min = config.min_level.label
        self._told = {name: set(told.get(name, ())) for name in self._sinks}
        # sinks that get every alert as it is (no routing key narrows them)
        self._all = {name for name, sink in self._settings.items()
                     if sink.min_level in (None, config.min_level) and sink.scopes == ("*",)
                     and not sink.rules}

    def route(self, notification: Notification) -> list[Route]:
        """The notifications to store, each with the sinks it goes to (none: stored only).
        Changes nothing: ``sent`` takes the routes once they are stored."""
        chosen: dict[tuple[Alert, ...], list[str]] = {}
        routed: set[str] = set()
        for sink in self._sinks:
            alerts = tuple(self._for(sink, alert) for alert in notification.alerts)
            mine = tuple(alert for alert in alerts if alert is not None)
            routed.update(alert.key for alert in mine)
            if mine:
                chosen.setdefault(mine, []).append(sink)
        routes = [(dataclasses.replace(notification, alerts=alerts), tuple(sinks))
                  for alerts, sinks in chosen.items()]
        nowhere = tuple(alert for alert in notification.alerts if alert.key not in routed)
        if nowhere or not routes:
            routes.append((dataclasses.replace(notification, alerts=nowhere), ()))
        return routes

    def sent(self, routes: Sequence[Route]) -> None:
        """``routes`` were stored: remember which sink was told of which firing alert."""
        for notification, sinks in routes:
            for sink in sinks:
                for alert in notification.alerts:
                    if alert.status is Status.RESOLVED:
                        self._told[sink].discard(alert.key)
                    else:
                        self._told[sink].add(alert.key)

    def _for(self, sink: str, alert: Alert) -> Alert | None:
        settings = self._settings.get(sink)
        if settings is None or sink in self._all or alert.key in self._told[sink]:
            return alert
        if alert.status is Status.RESOLVED or alert.transition is Transition.TEST:
            return None if alert.status is Status.RESOLVED else alert
        min_level = settings.min_level.label if settings.min_level is not None else self._min
        if not routes_to(settings, alert, min_level):
            return None
        if alert.transition is Transition.FIRING:
            return alert
        return dataclasses.replace(alert, transition=Transition.FIRING, previous_level=None)
