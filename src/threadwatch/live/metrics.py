"""``tail --metrics-listen``: the tail's state for Prometheus, served at ``/metrics``.

The exporter is a consumer of the tail: in the tail's thread, at a tick once a second, it
builds an immutable ``MetricsSnapshot``; the HTTP server's threads only read the latest one
(swapping a reference is atomic), so a scrape never touches the tail's state and never waits
for it. The outbox counts are the exception: a scrape reads them from the state file through
a read-only connection of its own (short busy timeout; the counts last read when it is busy),
so the tail's loop never runs a query for them.

Families (README, "Prometheus"):

* ``threadwatch_events_total{scope,count}`` — counter: each count key since this tail started:
  what each source's window counted, with what has left the window (``WindowedHealth.counted``,
  read for the sources that had events since the last snapshot; no second tally per source,
  which cost the tail a fifth of its throughput), and the counts of sources let go. It only
  goes up: a batch's executor counts (``process_pool_used``, ``thread_pool_used``,
  ``large_batches``) when the batch ends, ``stalled`` each time a source stalls. A restart of
  ``tail`` starts again at 0 (a counter reset, which ``rate()`` and ``increase()`` handle).
* ``threadwatch_window_events{scope,count}`` — gauge: the counts over ``[tail]
  window_seconds``, what the rules judge (and what ``threadwatch rules`` compares).
* ``threadwatch_level{scope}`` 0 green, 1 yellow, 2 red, 3 unknown; ``threadwatch_ratio{scope,
  rate}`` each windowed rate, 0 to 1, absent while it has nothing to divide by.
* ``threadwatch_last_line_timestamp_seconds{scope}``, ``threadwatch_read_lag_bytes{scope}``,
  ``threadwatch_files_followed``, ``threadwatch_stalled_sources``.
* ``threadwatch_outbox_deliveries{sink,state}`` (``pending``, ``failed``),
  ``threadwatch_last_delivery_timestamp_seconds{sink}``.
* ``threadwatch_alerts{state}`` — gauge: the open alerts by ``state``, ``firing``, ``pending``
  (waiting out their hold time), ``silenced`` and ``inhibited`` (the firing ones a silence or
  another alert holds back: part of ``firing``), as the live view's alert line counts them
  (``AlertDispatcher.state``); all four always, absent only while no sink is configured
  (nothing is judged for alerting then).
* ``threadwatch_sink_up{sink}`` 1 while the sink's last delivery attempt succeeded (or none
  failed yet), 0 while it fails; ``threadwatch_sink_consecutive_failures{sink}`` the failed
  attempts since its last success (``SinkState.failed_attempts``).
* ``threadwatch_build_info{version}``.

The alert families are read from the same snapshot, in the tail's thread, once a second (the
dispatcher's state is the loop's to read); events cost them nothing.

``scope`` is ``total``, a source's path as followed, or ``other``: the first ``max_scopes``
sources seen keep their path as label for as long as the tail runs; later ones are folded into
``other`` (counts summed, and the folded sources judged as one scope, as ``total`` is).
"""

from __future__ import annotations

import contextlib
import gzip
import math
import operator
import socket
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from threadwatch import __version__
from threadwatch.alerts.dispatcher import AlertState
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.sender import SinkState
from threadwatch.errors import OutboxError, ThreadwatchError
from threadwatch.events import Event, Kind
from threadwatch.health.metrics import COUNT_KEYS, Counts, add_counts
from threadwatch.health.scope import TOTAL, ScopeReport, judge_scope
from threadwatch.health.settings import HealthConfig
from threadwatch.health.window import Counted, LevelChange, ScopeHealth

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

OTHER = "other"
_SOURCE, _KIND = operator.attrgetter("source"), operator.attrgetter("kind")
DEFAULT_MAX_SCOPES = 100
SNAPSHOT_SECONDS = 1.0  # scrapes come every 15 s or so: fresher would only cost the tail


class TailState(Protocol):
    """What the exporter reads of a running tail (``live.loop.Tail``)."""

    def snapshot(self, now: float) -> list[ScopeHealth]: ...

    def lag_bytes(self) -> dict[str, int]: ...

    def followed(self) -> int: ...

    def counted(self, sources: Iterable[str]) -> dict[str, Counted]: ...


class SinkStates(Protocol):
    """What the exporter reads of the alert consumer (``AlertDispatcher``, or ``tail``'s
    reloadable ``live.reload.Alerting``): the sinks' states in any thread, where alerting
    stands (None: no sink configured) in the tail's thread."""

    def sink_states(self) -> list[SinkState]: ...

    def state(self) -> AlertState | None: ...


@dataclass(frozen=True)
class ScopeMetrics:
    """One ``scope`` label's values at a snapshot."""

    report: ScopeReport | None  # None: no window (a source gone; only its counter remains)
    events: Counts
    last_line_at: float | None = None
    lag_bytes: int = 0


@dataclass(frozen=True)
class SinkMetrics:
    sink: str
    pending: int
    failed: int
    last_delivered_at: float | None


@dataclass(frozen=True)
class MetricsSnapshot:
    """Everything ``/metrics`` shows, taken at one moment in the tail's thread.

    Attributes:
        taken_at: the tail's time when it was taken (None: not yet, the tail is starting).
        alerts: where alerting stood (None: no sink configured).
    """

    scopes: dict[str, ScopeMetrics] = field(default_factory=dict)
    files_followed: int = 0
    stalled_sources: int = 0
    taken_at: float | None = None
    alerts: AlertState | None = None


class ScopeLabels:
    """Source path → ``scope`` label: the first ``max_scopes`` sources keep their path (for
    the life of the process), the others become ``other``."""

    def __init__(self, max_scopes: int) -> None:
        self._max = max_scopes
        self._own: set[str] = set()

    def __call__(self, source: str) -> str:
        if source in self._own:
            return source
        if len(self._own) < self._max and source not in (TOTAL, OTHER):
            self._own.add(source)
            return source
        return OTHER


class MetricsExporter:
    """A ``Consumer`` that keeps ``snapshot`` up to date for ``MetricsCollector``.

    Args:
        tail: the running tail's state (read in the tail's thread only).
        config: the rules (to judge ``other``) and the tally's settings.
        max_scopes: sources with a ``scope`` label of their own; more fold into ``other``.
        dispatcher: the alert consumer, for the open alerts and the sinks' deliveries (None:
            no sinks).
        outbox: the state file's outbox opened read-only with a short busy timeout, for the
            pending and failed deliveries; read at scrape time in the server's thread, so a
            state file another process holds locked never holds up the tail (closed by
            ``close``).
    """

    def __init__(self, tail: TailState, config: HealthConfig, *,
                 max_scopes: int = DEFAULT_MAX_SCOPES,
                 dispatcher: SinkStates | None = None,
                 outbox: Outbox | None = None) -> None:
        self._tail = tail
        self._config = config
        self._labels = ScopeLabels(max_scopes)
        self._dispatcher = dispatcher
        self._outbox = outbox
        # what each source's window counted, as last read; sources with events since then
        self._counted: dict[str, Counted] = {}
        self._dirty: dict[str, None] = {}  # in the order first seen: the first keep labels
        # counts of sources no longer followed, and stalls: per label, never decreasing
        self._kept: dict[str, Counts] = {}
        self.snapshot = MetricsSnapshot()
        self._next_snapshot = float("-inf")
        self._waiting: dict[str, dict[str, int]] = {}

    @property
    def kinds(self) -> Collection[Kind]:
        return ()

    def on_events(self, events: Sequence[Event], at: float) -> None:
        # The window counts them: note whose counts changed, in C loops (a Python loop here
        # was 3 % of the tail's throughput). Stalls come on their own, from the window.
        self._dirty.update(dict.fromkeys(map(_SOURCE, events)))
        if Kind.STALLED in map(_KIND, events):
            for event in events:
                if event.kind is Kind.STALLED:
                    self._kept_of(self._labels(event.source))["stalled"] += 1

    def on_changes(self, changes: Sequence[LevelChange], health: Sequence[ScopeHealth]) -> None:
        pass

    def tick(self, now: float) -> None:
        if now >= self._next_snapshot:
            self._next_snapshot = now + SNAPSHOT_SECONDS
            self.snapshot = self.take(now)

    def close(self) -> None:
        if self._outbox is not None:
            with contextlib.suppress(OutboxError):
                self._outbox.close()

    def _kept_of(self, label: str) -> Counts:
        kept = self._kept.get(label)
        if kept is None:
            kept = self._kept[label] = dict.fromkeys(COUNT_KEYS, 0)
        return kept

    def take(self, now: float) -> MetricsSnapshot:
        """The snapshot at ``now`` (call in the tail's thread)."""
        healths = self._tail.snapshot(now)
        windowed = {health.scope: health for health in healths if health.scope != TOTAL}
        # (the snapshot may be a moment old: whether a source is still followed is asked)
        suspects = [source for source in self._counted if source not in windowed]
        fresh = self._tail.counted([*self._dirty, *suspects])
        self._dirty.clear()
        for source, counted in fresh.items():
            earlier = self._counted.get(source)
            if earlier is not None and earlier.window != counted.window:  # let go, seen again
                add_counts(self._kept_of(self._labels(source)), earlier.counts)
            self._counted[source] = counted
        for source in [s for s in suspects if s not in fresh]:  # let go: counts stay with label
            add_counts(self._kept_of(self._labels(source)), self._counted.pop(source).counts)
        lags = self._tail.lag_bytes()
        events: dict[str, Counts] = {TOTAL: dict.fromkeys(COUNT_KEYS, 0)}
        for label, kept in self._kept.items():
            add_counts(events.setdefault(label, dict.fromkeys(COUNT_KEYS, 0)), kept)
        for source, counted in self._counted.items():
            add_counts(events.setdefault(self._labels(source), dict.fromkeys(COUNT_KEYS, 0)),
                       counted.counts)
        for label, counts in list(events.items()):
            if label != TOTAL:
                add_counts(events[TOTAL], counts)
        scopes: dict[str, ScopeMetrics] = {}
        folded: list[ScopeHealth] = []
        for health in healths:
            label = TOTAL if health.scope == TOTAL else self._labels(health.scope)
            if label == OTHER:
                folded.append(health)
                continue
            lag = sum(lags.values()) if label == TOTAL else lags.get(health.scope, 0)
            scopes[label] = ScopeMetrics(health, events.get(label, {}),
                                         health.last_event_at, lag)
        if folded:
            counts = dict.fromkeys(COUNT_KEYS, 0)
            for health in folded:
                add_counts(counts, health.counts)
            last = max((h.last_event_at for h in folded if h.last_event_at is not None),
                       default=None)
            scopes[OTHER] = ScopeMetrics(
                judge_scope(OTHER, counts, self._config.rules), events.get(OTHER, {}), last,
                sum(lags.get(health.scope, 0) for health in folded))
        for label, counts in events.items():
            if label not in scopes:
                scopes[label] = ScopeMetrics(None, counts)
        return MetricsSnapshot(
            scopes=scopes,
            files_followed=self._tail.followed(),
            stalled_sources=sum(1 for h in windowed.values() if h.counts.get("stalled")),
            taken_at=now,
            alerts=None if self._dispatcher is None else self._dispatcher.state(),
        )

    def sinks(self) -> tuple[SinkMetrics, ...]:
        """Each sink's deliveries waiting in the outbox and last delivery, read now (any
        thread). While the state file is locked by another process, the counts last read."""
        if self._dispatcher is None:
            return ()
        if self._outbox is not None:
            with contextlib.suppress(OutboxError):  # busy: the last counts read
                self._waiting = self._outbox.waiting_by_sink()
        empty = {"pending": 0, "failed": 0}
        return tuple(
            SinkMetrics(state.sink, self._waiting.get(state.sink, empty)["pending"],
                        self._waiting.get(state.sink, empty)["failed"], state.last_delivered_at)
            for state in self._dispatcher.sink_states()
        )

@dataclass(frozen=True)
class _Family:
    """One family's name (as exposed: a counter's ends in ``_total``), type, help, labels."""

    name: str
    type: str
    help: str
    labels: tuple[str, ...] = ()

    def header(self) -> str:
        return f"# HELP {self.name} {self.help}\n# TYPE {self.name} {self.type}\n"

    def family(self) -> CounterMetricFamily | GaugeMetricFamily:
        """An empty prometheus-client family of this one (``collect``)."""
        if self.type == "counter":
            return CounterMetricFamily(self.name.removesuffix("_total"), self.help,
                                       labels=list(self.labels))
        return GaugeMetricFamily(self.name, self.help, labels=list(self.labels))


_EVENTS = _Family("threadwatch_events_total", "counter",
                  "Events counted since this tail started, by count key.", ("scope", "count"))
_WINDOW = _Family("threadwatch_window_events", "gauge",
                  "Counts over the health window, by count key.", ("scope", "count"))
_LEVEL = _Family("threadwatch_level", "gauge", "Health: 0 green, 1 yellow, 2 red, 3 unknown.",
                 ("scope",))
_RATIO = _Family("threadwatch_ratio", "gauge",
                 "A rate over the health window (0 to 1), by rate name.", ("scope", "rate"))
_LAST_LINE = _Family("threadwatch_last_line_timestamp_seconds", "gauge",
                     "When the scope's last recognised line was read (unix time).", ("scope",))
_LAG = _Family("threadwatch_read_lag_bytes", "gauge",
               "Bytes written to the scope's files not read yet.", ("scope",))
_FILES = _Family("threadwatch_files_followed", "gauge", "Files followed now.")
_STALLED = _Family("threadwatch_stalled_sources", "gauge",
                   "Sources whose run printed nothing for stall_seconds.")
_OUTBOX = _Family("threadwatch_outbox_deliveries", "gauge",
                  "Alert deliveries in the outbox, by sink and state.", ("sink", "state"))
_DELIVERED = _Family("threadwatch_last_delivery_timestamp_seconds", "gauge",
                     "When the sink last accepted a notification (unix time).", ("sink",))
_ALERTS = _Family("threadwatch_alerts", "gauge",
                  "Open alerts by state: firing, pending (hold time), and the firing ones"
                  " silenced or inhibited.", ("state",))
_SINK_UP = _Family("threadwatch_sink_up", "gauge",
                   "1 while the sink's last delivery attempt succeeded (or none failed), 0"
                   " while it fails.", ("sink",))
_SINK_FAILURES = _Family("threadwatch_sink_consecutive_failures", "gauge",
                         "Failed delivery attempts to the sink since its last success.",
                         ("sink",))
_INFO = _Family("threadwatch_build_info", "gauge", "The threadwatch version.", ("version",))
FAMILIES = (_EVENTS, _WINDOW, _LEVEL, _RATIO, _LAST_LINE, _LAG, _FILES, _STALLED, _OUTBOX,
            _DELIVERED, _ALERTS, _SINK_UP, _SINK_FAILURES, _INFO)
"""Every family ``/metrics`` shows, in its order (the README lists them; so does the test of
the Grafana dashboard's queries)."""
ALERT_STATES = ("firing", "pending", "silenced", "inhibited")  # AlertState's counts


def _label(value: str) -> str:
    """A label value as the text format writes it between quotes; the bytes of a file name
    that is not UTF-8 (decoded with surrogates) as escapes, ``m\\udce9m.log``, as the report
    writes them (the exposition must be UTF-8)."""
    value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    return repr(value) if math.isfinite(value) else ("+Inf" if value > 0 else "-Inf")


class MetricsCollector(Collector):
    """The Prometheus families of the exporter's latest snapshot: as prometheus-client
    families (``collect``), or written straight to the text format (``exposition``), which is
    what ``/metrics`` serves.

    Why two: with a thousand sources a scrape has some 6,000 samples, and prometheus-client
    builds an object per sample and validates, sorts and escapes every label name of every
    sample, about 30 ms (80 ms in OpenMetrics); ``exposition`` writes each line from
    constants and each scope's label escaped once, in a few ms. A test checks the two agree.
    """

    def __init__(self, exporter: MetricsExporter) -> None:
        self._exporter = exporter

    def collect(self) -> Iterator[Metric]:
        snapshot = self._exporter.snapshot  # one read: the families agree with each other
        families = {spec: spec.family() for spec in FAMILIES}
        events, window, level, ratio = (families[_EVENTS], families[_WINDOW],
                                        families[_LEVEL], families[_RATIO])
        for label, scope in snapshot.scopes.items():
            for key, value in scope.events.items():
                events.add_metric([label, key], value)
            report = scope.report
            if report is None:
                continue
            level.add_metric([label], int(report.verdict.level))
            for key, count in report.counts.items():
                window.add_metric([label, key], count)
            for key, rate in report.rates.items():
                if rate is not None:
                    ratio.add_metric([label, key], rate)
            if scope.last_line_at is not None:
                families[_LAST_LINE].add_metric([label], scope.last_line_at)
            families[_LAG].add_metric([label], scope.lag_bytes)
        families[_FILES].add_metric([], snapshot.files_followed)
        families[_STALLED].add_metric([], snapshot.stalled_sources)
        for sink in self._exporter.sinks():
            families[_OUTBOX].add_metric([sink.sink, "pending"], sink.pending)
            families[_OUTBOX].add_metric([sink.sink, "failed"], sink.failed)
            if sink.last_delivered_at is not None:
                families[_DELIVERED].add_metric([sink.sink], sink.last_delivered_at)
        alerts = snapshot.alerts
        if alerts is not None:
            for state in ALERT_STATES:
                families[_ALERTS].add_metric([state], getattr(alerts, state))
            for sink_state in alerts.sinks:
                families[_SINK_UP].add_metric([sink_state.sink], int(sink_state.ok))
                families[_SINK_FAILURES].add_metric([sink_state.sink],
                                                    sink_state.failed_attempts)
        families[_INFO].add_metric([__version__], 1)
        yield from families.values()

    def exposition(self) -> bytes:
        """The families of ``collect`` in the Prometheus text format (version 0.0.4)."""
        snapshot = self._exporter.snapshot
        scopes = [(f'scope="{_label(label)}"', scope) for label, scope in snapshot.scopes.items()]
        judged = [(label, scope, scope.report) for label, scope in scopes
                  if scope.report is not None]
        out = [_EVENTS.header()]
        for label, scope in scopes:
            out += [f'threadwatch_events_total{{{label},count="{key}"}} {value}\n'
                    for key, value in scope.events.items()]
        out.append(_WINDOW.header())
        for label, _, report in judged:
            out += [f'threadwatch_window_events{{{label},count="{key}"}} {value}\n'
                    for key, value in report.counts.items()]
        out.append(_LEVEL.header())
        out += [f"threadwatch_level{{{label}}} {int(report.verdict.level)}\n"
                for label, _, report in judged]
        out.append(_RATIO.header())
        for label, _, report in judged:
            out += [f'threadwatch_ratio{{{label},rate="{key}"}} {_number(rate)}\n'
                    for key, rate in report.rates.items() if rate is not None]
        out.append(_LAST_LINE.header())
        out += [f"threadwatch_last_line_timestamp_seconds{{{label}}} "
                f"{_number(scope.last_line_at)}\n"
                for label, scope, _ in judged if scope.last_line_at is not None]
        out.append(_LAG.header())
        out += [f"threadwatch_read_lag_bytes{{{label}}} {scope.lag_bytes}\n"
                for label, scope, _ in judged]
        out += [_FILES.header(), f"threadwatch_files_followed {snapshot.files_followed}\n",
                _STALLED.header(), f"threadwatch_stalled_sources {snapshot.stalled_sources}\n"]
        sinks = [(f'sink="{_label(sink.sink)}"', sink) for sink in self._exporter.sinks()]
        out.append(_OUTBOX.header())
        for label, sink in sinks:
            out += [f'threadwatch_outbox_deliveries{{{label},state="pending"}} {sink.pending}\n',
                    f'threadwatch_outbox_deliveries{{{label},state="failed"}} {sink.failed}\n']
        out.append(_DELIVERED.header())
        out += [f"threadwatch_last_delivery_timestamp_seconds{{{label}}} "
                f"{_number(sink.last_delivered_at)}\n"
                for label, sink in sinks if sink.last_delivered_at is not None]
        out += _alert_lines(snapshot.alerts)
        out += [_INFO.header(), f'threadwatch_build_info{{version="{_label(__version__)}"}} 1\n']
        return "".join(out).encode()


def _alert_lines(alerts: AlertState | None) -> list[str]:
    """The alert families' lines (``exposition``): headers only without a dispatcher."""
    if alerts is None:
        return [_ALERTS.header(), _SINK_UP.header(), _SINK_FAILURES.header()]
    labels = [(f'sink="{_label(state.sink)}"', state) for state in alerts.sinks]
    return [
        _ALERTS.header(),
        *(f'threadwatch_alerts{{state="{state}"}} {getattr(alerts, state)}\n'
          for state in ALERT_STATES),
        _SINK_UP.header(),
        *(f"threadwatch_sink_up{{{label}}} {int(state.ok)}\n" for label, state in labels),
        _SINK_FAILURES.header(),
        *(f"threadwatch_sink_consecutive_failures{{{label}}} {state.failed_attempts}\n"
          for label, state in labels),
    ]


def parse_listen(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) → host and port.

    Raises:
        ValueError: not HOST:PORT with a port from 0 to 65535.
    """
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--metrics-listen {address!r}: give HOST:PORT, e.g. 127.0.0.1:9464")
    return host.removeprefix("[").removesuffix("]") or "0.0.0.0", int(port)


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged (one every 15 s would drown the tail's own lines)."""


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape in flight does not hold up the tail's exit


def _metrics_app(collector: MetricsCollector) -> WSGIApplication:
    """``GET`` any path: the text format, gzipped (fast, level 1) when the client takes it;
    any other method: 405.

    Always the text format, whatever ``Accept`` prefers: Prometheus asks for OpenMetrics
    first but reads this as well, and prometheus-client's OpenMetrics writer takes some 80 ms
    for a thousand sources (see ``MetricsCollector``).
    """
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] != "GET":
            start_response("405 Method Not Allowed", [("Allow", "GET")])
            return [b""]
        body = collector.exposition()
        headers = [("Content-Type", CONTENT_TYPE)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = gzip.compress(body, compresslevel=1)  # level 9 would take 15 ms, for 10 %
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [body]

    return app


class MetricsServer:
    """Serves ``/metrics`` from ``collector`` on a daemon thread until ``close``.

    Raises:
        ThreadwatchError: the address cannot be listened on.
    """

    def __init__(self, address: str, collector: MetricsCollector) -> None:
        try:
            host, port = parse_listen(address)
        except ValueError as exc:
            raise ThreadwatchError(str(exc)) from exc
        try:
            # the family of the address (IPv6 for "::"), as http.server picks it
            family, _, _, _, sockaddr = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]

            class Server(_ThreadingServer):
                address_family = family

            self._server = make_server(str(sockaddr[0]), port, _metrics_app(collector), Server,
                                       handler_class=_QuietHandler)
        except OSError as exc:
            raise ThreadwatchError(
                f"--metrics-listen {address}: cannot listen: {exc.strerror or exc}") from exc
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="threadwatch-metrics")
        self._thread.start()
        self.port = int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
