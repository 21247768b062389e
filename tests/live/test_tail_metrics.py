"""``tail --metrics-listen``: a real ``threadwatch tail`` serving ``/metrics``, scraped over
HTTP while run_batt lines are appended, parsed with Prometheus's parser and checked by
``promtool check metrics`` (Debian's ``prometheus`` package)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer

from alerts.alert_helpers import Receiver
from faults.tail_process import MEMORY_ERROR, append, healthy_batch
from threadwatch.live.metrics import ALERT_STATES

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

CONFIG = """
[tail]
window_seconds = 5
bucket_seconds = 1
poll_seconds = 0.05
sweep_seconds = 0.2
refresh_seconds = 0.1
[alerts]
hold_seconds = 0
group_wait_seconds = 0
[alerts.sinks.hook]
type = "webhook"
url = "${METRICS_HOOK_URL}"
"""


def overloaded_batch(n: int) -> str:
    task = f"{n:08x}"
    return (f"run_batt.py:475: -- {task} - {n} --\n"
            "run_batt.py:566: -- System overloaded (64 threads), using sequential processing\n"
            f"run_batt.py:902: -- {task} - {n} done - 1 candidates scored\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MetricsTail:
    """``tail --metrics-listen`` on ``paths`` with ``config`` (TOML text) and state file
    ``tmp_path/state.db``; its sink's URL is ``hook_url``, by default a port nobody listens
    on (deliveries stay pending)."""

    def __init__(self, tmp_path: Path, paths: list[Path], *extra: str, config: str = CONFIG,
                 hook_url: str | None = None) -> None:
        config_file = tmp_path / "threadwatch.toml"
        config_file.write_text(config)
        self.port = free_port()
        self.err = tmp_path / "tail.err"
        hook_url = hook_url or f"http://127.0.0.1:{free_port()}/"
        with self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl",
                 "--config", str(config_file), "--state", str(tmp_path / "state.db"),
                 "--metrics-listen", f"127.0.0.1:{self.port}", *extra, *map(str, paths)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                env={**os.environ, "METRICS_HOOK_URL": hook_url},
            )

    def scrape(self) -> str:
        response = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5)
        response.raise_for_status()
        return response.text

    def wait_for(self, condition: Callable[[Samples], bool], what: str,
                 timeout: float = 20.0) -> Samples:
        deadline = time.monotonic() + timeout
        found: Samples = {}
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.err.read_text()
            try:
                found = samples(self.scrape())
            except httpx.TransportError:
                pass  # not listening yet
            else:
                if condition(found):
                    return found
            time.sleep(0.05)
        shown = {key: n for key, n in found.items()
                 if (("scope", "total") in key[1] and n)
                 or key[0].startswith(("threadwatch_alerts", "threadwatch_sink"))}
        pytest.fail(f"timed out waiting for {what}; last scrape (total not 0, alerts, sinks):"
                    f" {shown}")

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(20)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[..., MetricsTail]]:
    tails: list[MetricsTail] = []

    def start(paths: list[Path], *extra: str, **options: str) -> MetricsTail:
        tails.append(MetricsTail(tmp_path, paths, *extra, **options))
        return tails[-1]

    yield start
    for tail in tails:
        if tail.process.poll() is None:
            tail.process.kill()
            tail.process.wait(20)


def samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def test_counts_levels_and_rates_per_source_and_total(
    tmp_path: Path, started: Callable[..., MetricsTail]
) -> None:
    healthy, loaded = tmp_path / "healthy.log", tmp_path / "loaded.log"
    healthy.write_text("")
    loaded.write_text("")
    tail = started([healthy, loaded])
    tail.wait_for(lambda s: value(s, "threadwatch_files_followed") == 2, "two files followed")
    append(healthy, "".join(healthy_batch(n) for n in range(1, 4)))
    append(loaded, overloaded_batch(1) + overloaded_batch(2) + MEMORY_ERROR)
    h, ld = str(healthy), str(loaded)

    found = tail.wait_for(
        lambda s: value(s, "threadwatch_events_total", scope="total", count="batches") == 5
        and value(s, "threadwatch_level", scope=ld) == 2
        and value(s, "threadwatch_outbox_deliveries", sink="hook", state="pending") == 1,
        "five batches counted, the loaded source red and its alert waiting")
    assert value(found, "threadwatch_events_total", scope=h, count="batches") == 3
    assert value(found, "threadwatch_events_total", scope=h, count="process_pool_used") == 3
    assert value(found, "threadwatch_events_total", scope=ld, count="overload") == 2
    assert value(found, "threadwatch_events_total", scope=ld, count="memory_errors") == 1
    assert value(found, "threadwatch_window_events", scope=ld, count="memory_errors") == 1
    assert value(found, "threadwatch_level", scope=h) == 0
    assert value(found, "threadwatch_level", scope="total") == 2
    assert value(found, "threadwatch_ratio", scope=ld, rate="overload") == 1.0
    assert value(found, "threadwatch_ratio", scope=h, rate="overload") == 0.0
    assert value(found, "threadwatch_ratio", scope="total", rate="overload") == 2 / 5
    # no samples in the loaded source: no sample rate, not a 0
    assert value(found, "threadwatch_ratio", scope=ld, rate="sample_failures") is None
    assert value(found, "threadwatch_read_lag_bytes", scope="total") == 0
    now = time.time()
    for scope in (h, ld, "total"):
        seen = value(found, "threadwatch_last_line_timestamp_seconds", scope=scope)
        assert seen is not None and now - 30 < seen <= now
    assert value(found, "threadwatch_stalled_sources") == 0
    assert value(found, "threadwatch_outbox_deliveries", sink="hook", state="failed") == 0
    assert value(found, "threadwatch_build_info", version=_version()) == 1
    # never delivered: no timestamp rather than 0
    assert value(found, "threadwatch_last_delivery_timestamp_seconds", sink="hook") is None

    # the window (5 s) forgets; the counters since start do not
    later = tail.wait_for(
        lambda s: value(s, "threadwatch_window_events", scope="total", count="batches") == 0,
        "the window emptied")
    assert value(later, "threadwatch_events_total", scope="total", count="batches") == 5
    assert value(later, "threadwatch_events_total", scope=ld, count="memory_errors") == 1
    assert tail.stop() == 0


def _version() -> str:
    from threadwatch import __version__  # noqa: PLC0415

    return __version__


def test_scopes_beyond_the_cap_fold_into_other(
    tmp_path: Path, started: Callable[..., MetricsTail]
) -> None:
    logs = [tmp_path / f"run{k}.log" for k in range(3)]
    for log in logs:
        log.write_text("")
    tail = started(logs, "--metrics-max-scopes", "1")
    tail.wait_for(lambda s: value(s, "threadwatch_files_followed") == 3, "three files")
    append(logs[0], healthy_batch(1))
    append(logs[1], healthy_batch(2) + healthy_batch(3))
    append(logs[2], overloaded_batch(4))
    found = tail.wait_for(
        lambda s: value(s, "threadwatch_events_total", scope="total", count="batches") == 4,
        "four batches")
    scopes = {dict(labels)["scope"] for name, labels in found
              if name == "threadwatch_events_total"}
    assert len(scopes) == 3 and {"total", "other"} < scopes  # one path, other, total
    own = (scopes - {"total", "other"}).pop()
    per_file = {str(logs[0]): 1, str(logs[1]): 2, str(logs[2]): 1}
    batches = value(found, "threadwatch_events_total", scope="other", count="batches")
    assert batches == 4 - per_file[own]
    assert value(found, "threadwatch_events_total", scope=own, count="batches") == per_file[own]
    # the folded sources are judged as one scope, as the total is
    folded_overload = 1 if own != str(logs[2]) else 0
    assert value(found, "threadwatch_ratio", scope="other", rate="overload") == (
        folded_overload / batches)
    assert tail.stop() == 0


def test_a_bad_address_is_one_line_and_exit_3(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("")
    for address, said in [("nowhere", "give HOST:PORT"), ("127.0.0.1:99999", "give HOST:PORT"),
                          ("192.0.2.1:9464", "cannot listen")]:
        result = subprocess.run(
            [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl",
             "--state", str(tmp_path / "state.db"), "--metrics-listen", address, str(log)],
            capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 3, result.stderr
        assert result.stderr.startswith("threadwatch: ") and said in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None and not os.environ.get("CI"),
    reason="promtool (Debian package prometheus) is not installed")


def promtool_accepts(scraped: str) -> None:
    """``promtool check metrics`` finds nothing to say about ``scraped``."""
    promtool = shutil.which("promtool")
    assert promtool is not None, "CI must install the prometheus package (promtool)"
    check = subprocess.run([promtool, "check", "metrics"], input=scraped,
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout + check.stderr == ""  # no lint remark either


@needs_promtool
def test_promtool_accepts_the_scrape(tmp_path: Path,
                                     started: Callable[..., MetricsTail]) -> None:
    log = tmp_path / "run.log"
    log.write_text(healthy_batch(1) + overloaded_batch(2))
    tail = started([log])
    tail.wait_for(lambda s: value(s, "threadwatch_events_total", scope="total",
                                  count="batches") == 2, "two batches")
    promtool_accepts(tail.scrape())
    assert tail.stop() == 0


ALERTING = """
[tail]
window_seconds = 300
poll_seconds = 0.05
sweep_seconds = 0.2
refresh_seconds = 0.1
[alerts]
hold_seconds = 3600
group_wait_seconds = 0
[alerts.delivery]
backoff_initial_seconds = 0.2
backoff_max_seconds = 0.5
[alerts.sinks.hook]
type = "webhook"
url = "${METRICS_HOOK_URL}"
[[rules]]
name = "memory-errors-red"
hold_seconds = 0
"""


def alert_counts(found: Samples) -> dict[str, float | None]:
    return {state: value(found, "threadwatch_alerts", state=state) for state in ALERT_STATES}


def test_alerts_by_state_and_a_failing_sink(tmp_path: Path, httpserver: HTTPServer,
                                            started: Callable[..., MetricsTail]) -> None:
    """A real tail, its sink a real receiver answering 503. A memory error: its event alert
    fires (one notification), the level alerts of its run and of the total fire too but are
    inhibited. Then a memory error in a source silenced by `threadwatch silence add` (its
    event alert silenced, its level inhibited; the total, now two runs' problem, no longer
    inhibited) and an overloaded source waiting out the hold time. The sink is down, its
    failed attempts counted, and up again once the receiver answers."""
    receiver = Receiver()  # 503 while down
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    broken, quiet, loaded = (tmp_path / f"{name}.log" for name in ("broken", "quiet", "loaded"))
    for log in (broken, quiet, loaded):
        log.write_text(healthy_batch(1))
    silence = subprocess.run(
        [sys.executable, "-m", "threadwatch", "silence", "add", "--scope", quiet.name,
         "--for", "1h", "--state", str(tmp_path / "state.db")], capture_output=True, text=True,
        timeout=60, check=False)
    assert silence.returncode == 0, silence.stderr
    tail = started([broken, quiet, loaded], config=ALERTING,
                   hook_url=httpserver.url_for("/hook"))
    found = tail.wait_for(lambda s: value(s, "threadwatch_files_followed") == 3,
                          "three files followed")
    assert alert_counts(found) == dict.fromkeys(ALERT_STATES, 0)  # present, 0
    assert value(found, "threadwatch_sink_up", sink="hook") == 1  # nothing failed yet
    assert value(found, "threadwatch_sink_consecutive_failures", sink="hook") == 0

    append(broken, MEMORY_ERROR)
    found = tail.wait_for(
        lambda s: (value(s, "threadwatch_sink_consecutive_failures", sink="hook") or 0) >= 2
        and value(s, "threadwatch_alerts", state="firing") == 3,
        "three alerts firing and the sink failing twice")
    assert alert_counts(found) == {"firing": 3, "pending": 0, "silenced": 0, "inhibited": 2}
    assert value(found, "threadwatch_sink_up", sink="hook") == 0
    assert value(found, "threadwatch_outbox_deliveries", sink="hook", state="pending") == 1

    append(quiet, MEMORY_ERROR)
    append(loaded, overloaded_batch(2) + overloaded_batch(3))
    found = tail.wait_for(lambda s: value(s, "threadwatch_alerts", state="pending") == 1
                          and value(s, "threadwatch_alerts", state="firing") == 5,
                          "five alerts firing, one pending")
    assert alert_counts(found) == {"firing": 5, "pending": 1, "silenced": 1, "inhibited": 2}
    assert value(found, "threadwatch_sink_up", sink="hook") == 0
    if shutil.which("promtool") or os.environ.get("CI"):
        promtool_accepts(tail.scrape())

    with receiver.lock:
        receiver.down = False
    found = tail.wait_for(lambda s: value(s, "threadwatch_sink_up", sink="hook") == 1,
                          "the sink up again")
    assert value(found, "threadwatch_sink_consecutive_failures", sink="hook") == 0
    assert value(found, "threadwatch_last_delivery_timestamp_seconds", sink="hook")
    assert alert_counts(found) == {"firing": 5, "pending": 1, "silenced": 1, "inhibited": 2}
    assert tail.stop() == 0
