"""Inhibition: an alert that fires keeps the alerts of the same root cause from being sent, as
Alertmanager's inhibit rules do.

    AlertRules ──alerts──▶ Inhibitor.step ──alerts to send──▶ the group (dispatcher)
         └── open alerts ─────▲      └── held: inhibited, not sent (state file, ``alerts``)

Two kinds of rule (``[alerts]`` settings):

* ``[[alerts.inhibit]]``: while an alert of one of its ``sources`` rules fires, an open alert
  of one of its ``targets`` rules (not itself) with the same scope as ``equal`` says is
  inhibited: ``"run"``, a file of the same run (``NAME.log`` and ``NAME.err``: the same
  ``sources.files.run_stem``, as ``report`` joins them); ``"source"``, the same file;
  ``"any"``. A level target only while each of its reasons is one of ``metrics`` (when
  given): a level alert with a reason of its own is another problem, and is sent.
* ``inhibit_total``: total's level alert is inhibited while every open alert of a source
  (firing or pending) is of one run: total then says nothing that run's alert does not.

An inhibited alert is not sent: not its firing, its repeats, its escalations. When its
inhibition ends (the source resolved) and it still fires, it is sent: as *firing* if no
receiver was told of it, as *escalated* if one was and its level rose meanwhile (else nothing:
its repeats go on as before). Its *resolved* is sent if the receivers were told it fires --
also while inhibited, so a receiver never keeps an alert open for ever -- and dropped if they
were not.

Which alerts the receivers were told of (``told``) is what ``alert_active`` remembers, so it
survives a restart; the inhibited alerts are saved in the state file too (``alert_inhibited``)
and resumed, so an inhibited alert is not sent after a restart while its source still fires.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from threadwatch.alerts.model import LEVEL_RULE, Alert, AlertReason, Status, Transition
from threadwatch.alerts.rules import AlertRules
from threadwatch.alerts.settings import AlertsConfig, InhibitRuleConfig
from threadwatch.health.levels import Level
from threadwatch.health.scope import TOTAL
from threadwatch.sources.files import run_stem

TOTAL_KEY = f"{LEVEL_RULE}:{TOTAL}"


@dataclass(frozen=True)
class Inhibited:
    """A firing alert that is not sent, and why.

    Attributes:
        alert: its state when last judged.
        by: the key of the alert that inhibits it.
        since: when its inhibition began.
    """

    alert: Alert
    by: str
    since: float


def _level(label: str) -> Level:
    return Level.RED if label == "red" else Level.YELLOW


def _only(reasons: Sequence[AlertReason], metrics: Sequence[str]) -> bool:
    return bool(reasons) and all(reason.metric in metrics for reason in reasons)


def _same(equal: str, source: str, target: str) -> bool:
    if equal == "any":
        return True
    if equal == "source":
        return source == target
    return TOTAL not in (source, target) and run_stem(source) == run_stem(target)


def inhibitions(rules: Sequence[InhibitRuleConfig], inhibit_total: bool,
                open_alerts: Sequence[tuple[Alert, bool]]) -> dict[str, str]:
    """Which open alerts are inhibited now, and by which alert's key.

    Args:
        rules: the ``[[alerts.inhibit]]`` rules.
        inhibit_total: whether total's level alert is inhibited while one run has alerts.
        open_alerts: every open alert and whether it fires (else it is pending).
    """
    found: dict[str, str] = {}
    for rule in rules:
        sources = [alert for alert, firing in open_alerts if firing and alert.rule in rule.sources]
        if not sources:
            continue
        for target, _ in open_alerts:
            if target.key in found or target.rule not in rule.targets:
                continue
            if (rule.metrics and target.rule == LEVEL_RULE
                    and not _only(target.reasons, rule.metrics)):
                continue
            source = next((source for source in sources if source.key != target.key
                           and _same(rule.equal, source.scope, target.scope)), None)
            if source is not None:
                found[target.key] = source.key
    if inhibit_total and any(alert.key == TOTAL_KEY for alert, _ in open_alerts):
        of_runs = [(alert, firing) for alert, firing in open_alerts if alert.scope != TOTAL]
        if len({run_stem(alert.scope) for alert, _ in of_runs}) == 1:
            # name the alert that is sent, where there is one: it is what the page says
            ranked = sorted(of_runs, key=lambda pair: (not pair[1], pair[0].key in found,
                                                       pair[0].rule == LEVEL_RULE))
            found[TOTAL_KEY] = ranked[0][0].key
    return found


class Inhibitor:
    """Keeps inhibited alerts from being sent, and sends them when their inhibition ends.

    Args:
        config: the ``[alerts]`` settings (``inhibit``, ``inhibit_total``).
        rules: the alert state machine whose alerts pass through ``step``.
    """

    def __init__(self, config: AlertsConfig, rules: AlertRules) -> None:
        self._inhibit = config.inhibit
        self._inhibit_total = config.inhibit_total
        self._rules = rules
        self._told: dict[str, str] = {}  # key -> the level receivers were last told it fires at
        self.held: dict[str, Inhibited] = {}
        self.changed = False  # ``held`` changed since ``saved()``

    @property
    def enabled(self) -> bool:
        return bool(self._inhibit) or self._inhibit_total

    def restore(self, told: Iterable[Alert], held: Iterable[Inhibited]) -> None:
        """Resume after a restart: the firing alerts receivers were told of, and the
        inhibited ones (their episodes restored in the rules)."""
        self._told = {alert.key: alert.level for alert in told
                      if alert.status is Status.FIRING}
        self.held = {entry.alert.key: entry for entry in held if entry.alert.key not in self._told}

    def untell(self, key: str) -> None:
        """``key``'s firing was taken back before it was sent (it waited in the group)."""
        self._told.pop(key, None)

    def saved(self) -> None:
        self.changed = False

    def step(self, alerts: Sequence[Alert], now: float) -> list[Alert]:
        """The alerts of ``alerts`` to send at ``now``, and those of alerts whose inhibition
        has ended (judged on the rules' open alerts after ``alerts`` were made)."""
        if not self.enabled:
            return list(alerts)
        if not alerts and not self.held:
            return []
        open_alerts = self._rules.open_alerts()
        inhibited = inhibitions(self._inhibit, self._inhibit_total, open_alerts)
        sent: list[Alert] = []
        for alert in alerts:
            if alert.status is Status.RESOLVED:
                if self._told.pop(alert.key, None) is not None:
                    sent.append(alert)
            elif alert.key not in inhibited:
                first = alert.key not in self._told  # a repeat is the first they hear of it
                self._told[alert.key] = alert.level
                sent.append(dataclasses.replace(alert, transition=Transition.FIRING,
                                                previous_level=None) if first else alert)
        firing = {alert.key: alert for alert, is_firing in open_alerts if is_firing}
        held = {}
        for key, by in inhibited.items():
            if key in firing:
                before = self.held.get(key)
                held[key] = Inhibited(firing[key], by, before.since if before else now)
        made = {alert.key for alert in alerts}
        for key in self.held.keys() - held.keys():
            if key in firing and key not in made:
                released = self._release(key, firing[key], now)
                if released is not None:
                    sent.append(released)
        if {k: (e.by, e.alert.level) for k, e in held.items()} != {
                k: (e.by, e.alert.level) for k, e in self.held.items()}:
            self.changed = True
        self.held = held
        return sent

    def _release(self, key: str, alert: Alert, now: float) -> Alert | None:
        told = self._told.get(key)
        if told is None:
            released = self._rules.send_now(key, Transition.FIRING, now)
        elif _level(alert.level) > _level(told):
            released = self._rules.send_now(key, Transition.ESCALATED, now, _level(told))
        else:
            return None
        if released is not None:
            self._told[key] = released.level
        return released


def held_alerts(held: Mapping[str, Inhibited]) -> list[Inhibited]:
    """The inhibited alerts in key order (as saved and shown)."""
    return [held[key] for key in sorted(held)]
