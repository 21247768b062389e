"""Measure ``tail --metrics-listen``: scrape time, and what exporting costs the tail.

Usage: python benchmarks/bench_metrics.py [--files 1000] [--writers 20] [--lines 20000]
       [--rounds 3] [--compare OTHER/src] [--scrape-only | --throughput-only]

(a) a ``threadwatch tail --metrics-listen`` process follows ``--files`` files (default
    ``--metrics-max-scopes``); ``/metrics`` is fetched 30 times per round, as Prometheus
    fetches it (its ``Accept`` header, gzip): median and max (target: under 50 ms).
    ``--compare SRC`` also runs the tail of another source tree (``PYTHONPATH=SRC``, e.g. a
    ``git worktree add /tmp/main main``, then ``--compare /tmp/main/src``), alternated with
    this one's in the same run, and prints now/then;
(b) the sustained events/s of an in-process ``Tail`` while ``--writers`` processes append
    ``--lines`` lines each, with and without the metrics consumer and its HTTP server (scraped
    every second), alternated, in the same run (target: under 5 % slower); for another tree's,
    run the script with ``PYTHONPATH=OTHER/src``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_tail import Counter, _writer  # noqa: E402 - the sibling script, not a package

from threadwatch.config import load_config  # noqa: E402
from threadwatch.live.loop import Tail, TailOptions  # noqa: E402
from threadwatch.live.metrics import MetricsCollector, MetricsExporter, MetricsServer  # noqa: E402


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# what Prometheus 2.x sends when it scrapes (it prefers OpenMetrics)
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
              "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
}


def many_files(work: Path, files: int) -> Path:
    folder = work / "many"
    folder.mkdir()
    batch = ("run_batt.py:475: -- {t} - 1 --\n<dynamic-code>:512: demo[0] - {t} - 1\n"
             "run_batt.py:902: -- {t} - 1 done - 1 candidates scored\n")
    for index in range(files):
        (folder / f"f{index:04d}.log").write_text(batch.format(t=f"{index:08x}"))
    return folder


def scrape_time(folder: Path, files: int, src: Path | None = None) -> tuple[list[float], int]:
    """Scrape times (ms) of a tail following ``folder``; lines of the last scrape. ``src``:
    run that source tree's threadwatch instead of this one."""
    env = None if src is None else {**os.environ, "PYTHONPATH": str(src.resolve())}
    state = Path(tempfile.mkdtemp(dir=folder.parent)) / "scrape.db"
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "threadwatch", "tail", str(folder), "--format", "jsonl",
         "--state", str(state), "--metrics-listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}/metrics"
    # One client for every scrape, as Prometheus keeps one: making an httpx client (its TLS
    # context) takes some 20 ms on its own, which is not the exporter's answer time.
    client = httpx.Client(timeout=10, headers=PROMETHEUS_HEADERS)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if _ready(client.get(url, headers={"Accept": "text/plain"}).text, files):
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"{url}: not all {files} files read after 120 s")
        times = []
        for _ in range(30):
            started = time.perf_counter()
            text = client.get(url).text
            times.append((time.perf_counter() - started) * 1000)
        return times, text.count("\n")
    finally:
        client.close()
        process.terminate()
        process.wait()


def _ready(text: str, files: int) -> bool:
    """Every file followed and its batch counted."""
    found = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
             for family in text_string_to_metric_families(text) for sample in family.samples}
    return (found.get(("threadwatch_files_followed", ())) == files and
            found.get(("threadwatch_events_total", (("count", "batches"), ("scope", "total"))))
            == files)


def sustained(work: Path, writers: int, lines: int, *, exporting: bool) -> tuple[float, float]:
    """Events/s, and CPU µs per event of this process (the tail, and the exporter and its
    scrapes; the writers are other processes): the CPU figure is what other jobs sharing the
    machine disturb least."""
    folder = Path(tempfile.mkdtemp(dir=work))
    paths = [folder / f"tmp_batt_{index:010d}_run.log" for index in range(writers)]
    for path in paths:
        path.touch()
    config = load_config()
    tail = Tail([str(folder)], config, TailOptions(state_path=folder / "state.db"))
    counter = Counter()
    consumers: list[object] = [counter]
    server = None
    scraping = threading.Event()
    if exporting:
        exporter = MetricsExporter(tail, config)
        server = MetricsServer("127.0.0.1:0", MetricsCollector(exporter))
        consumers.append(exporter)

        def scrape() -> None:  # one client, as Prometheus (making one costs ~20 ms of CPU)
            with httpx.Client(timeout=10, headers=PROMETHEUS_HEADERS) as client:
                while not scraping.wait(1.0):
                    client.get(f"http://127.0.0.1:{server.port}/metrics")

        threading.Thread(target=scrape, daemon=True).start()
    thread = threading.Thread(target=tail.run, args=(consumers,))
    thread.start()
    time.sleep(0.5)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_writer, args=(str(p), lines)) for p in paths]
    started = time.perf_counter()
    cpu = time.process_time()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    expected = writers * lines
    deadline = time.monotonic() + 300
    while counter.count < expected and time.monotonic() < deadline:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    scraping.set()
    tail.stop()
    thread.join()
    if server is not None:
        server.close()
    return counter.count / elapsed, cpu / max(counter.count, 1) * 1e6


def scrapes(work: Path, args: argparse.Namespace) -> None:
    """(a), and the other tree's with --compare."""
    folder = many_files(work, args.files)
    now: list[float] = []
    then: list[float] = []
    for _ in range(args.rounds):  # alternated, so that a busy spell hits both alike
        times, lines = scrape_time(folder, args.files)
        now += times
        if args.compare is not None:
            then += scrape_time(folder, args.files, args.compare)[0]
    print(f"(a) /metrics with {args.files} files ({lines} lines), {len(now)} scrapes:"
          f" median {statistics.median(now):.1f} ms, max {max(now):.1f} ms")
    if then:
        print(f"    then ({args.compare}): median {statistics.median(then):.1f} ms,"
              f" max {max(then):.1f} ms")


def throughput(work: Path, args: argparse.Namespace) -> None:
    """(b): this tree only (run the script with PYTHONPATH=OTHER/src for another's)."""
    rates: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.rounds):
        for exporting in (False, True):
            rate, cpu = sustained(work, args.writers, args.lines, exporting=exporting)
            rates[exporting].append(rate)
            cpus[exporting].append(cpu)
    plain, exported = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"(b) events/s without metrics {plain:,.0f}, with {exported:,.0f}"
          f" ({(plain - exported) / plain * 100:+.1f} % slower)")
    plain, exported = statistics.median(cpus[False]), statistics.median(cpus[True])
    print(f"    CPU per event without metrics {plain:.2f} µs, with {exported:.2f} µs"
          f" ({(exported - plain) / plain * 100:+.1f} %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare", type=Path, help="another source tree's src/ to compare")
    parser.add_argument("--scrape-only", action="store_true", help="(a) only")
    parser.add_argument("--throughput-only", action="store_true", help="(b) only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.throughput_only:
            scrapes(work, args)
        if not args.scrape_only:
            throughput(work, args)


if __name__ == "__main__":
    main()
