"""Measure ``threadwatch tail``: latency, sustained rate against ``report``, memory.

Usage: python benchmarks/bench_tail.py [--writers 40] [--lines 25000] [--files 1000] [--mb 40]

(a) latency from a line appended to its event delivered (p50, p99; target p99 < 50 ms);
(b) ``--writers`` processes append ``--lines`` run_batt lines each to their own file as fast as
    they can; every line is one event: lines written must equal events seen. The sustained
    events/s is compared with ``report``'s events/s on a generated log, measured in the same run
    (target: at least half);
(c) peak memory of a ``threadwatch tail`` process following ``--files`` files.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate_log import write_log  # noqa: E402 - the sibling script, not a package

from threadwatch.config import load_config  # noqa: E402
from threadwatch.events import Event, Kind  # noqa: E402
from threadwatch.health.window import LevelChange, ScopeHealth  # noqa: E402
from threadwatch.live.loop import Tail, TailOptions  # noqa: E402
from threadwatch.parse.scanner import Scanner  # noqa: E402
from threadwatch.report.engine import counting_grammar  # noqa: E402
from threadwatch.report.model import build_report  # noqa: E402


class Counter:
    """Counts events and notes when each batch number arrived."""

    def __init__(self) -> None:
        self.count = 0
        self.arrived: dict[int, float] = {}

    kinds: frozenset[Kind] = frozenset()  # what health reads is enough

    def on_events(self, events: Sequence[Event], at: float) -> None:
        now = time.perf_counter()
        self.count += len(events)
        for event in events:
            if event.batch_index is not None:
                self.arrived[event.batch_index] = now

    def on_changes(self, changes: Sequence[LevelChange], health: Sequence[ScopeHealth]) -> None:
        pass

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        pass


def _start(folder: Path, work: Path) -> tuple[Tail, Counter, threading.Thread]:
    tail = Tail([str(folder)], load_config(), TailOptions(state_path=work / "state.db"))
    counter = Counter()
    thread = threading.Thread(target=tail.run, args=([counter],))
    thread.start()
    return tail, counter, thread


def latency(work: Path, samples: int = 400) -> tuple[float, float]:
    folder = work / "latency"
    folder.mkdir()
    log = folder / "a.log"
    log.touch()
    tail, counter, thread = _start(folder, work)
    time.sleep(0.5)  # let the first discovery open the file
    written: dict[int, float] = {}
    with log.open("a") as stream:
        for number in range(samples):
            stream.write(f"run_batt.py:475: -- {number:08x} - {number} --\n")
            written[number] = time.perf_counter()
            stream.flush()
            time.sleep(0.005)
    deadline = time.monotonic() + 10
    while len(counter.arrived) < samples and time.monotonic() < deadline:
        time.sleep(0.01)
    tail.stop()
    thread.join()
    delays = sorted((counter.arrived[n] - written[n]) * 1000 for n in written
                    if n in counter.arrived)
    return statistics.median(delays), delays[int(len(delays) * 0.99) - 1]


def _writer(path: str, lines: int) -> None:
    with open(path, "a") as stream:
        for number in range(lines):
            tid = f"{number:08x}"
            if number % 2:
                stream.write(f"<dynamic-code>:512: demo[{number % 5}] - {tid} - 3\n")
            else:
                stream.write(f"run_batt.py:475: -- {tid} - {number} --\n")


def sustained(work: Path, writers: int, lines: int) -> tuple[int, int, float]:
    folder = work / "sustained"
    folder.mkdir()
    paths = [folder / f"tmp_batt_{index:010d}_run.log" for index in range(writers)]
    for path in paths:
        path.touch()
    tail, counter, thread = _start(folder, work)
    time.sleep(0.5)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_writer, args=(str(p), lines)) for p in paths]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    expected = writers * lines
    deadline = time.monotonic() + 300
    while counter.count < expected and time.monotonic() < deadline:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    time.sleep(0.5)  # anything beyond the expected count would be a repeat
    tail.stop()
    thread.join()
    return expected, counter.count, counter.count / elapsed


def report_rate(work: Path, megabytes: int) -> tuple[float, float]:
    """Events/s of report on a generated log: all CPUs, and one process."""
    log = work / "report.log"
    write_log(log, megabytes, 7)
    scanner = Scanner(str(log), counting_grammar(load_config()))
    events = 0
    with log.open("rb") as stream:
        while chunk := stream.read(4 << 20):
            events += len(scanner.feed(chunk))
    events += len(scanner.close())
    rates = []
    for workers in (None, 1):
        started = time.perf_counter()
        build_report([str(log)], load_config(), workers)
        rates.append(events / (time.perf_counter() - started))
    return rates[0], rates[1]


def memory(work: Path, files: int) -> tuple[int, int]:
    """Peak RSS (kB) of a tail process following ``files`` files, then after a line to each."""
    folder = work / "many"
    folder.mkdir()
    for index in range(files):
        (folder / f"f{index:04d}.log").write_text(f"run_batt.py:475: -- {index:08x} - 1 --\n")
    state = work / "memory.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "threadwatch", "tail", str(folder), "--format", "jsonl",
         "--state", str(state)], stdout=subprocess.DEVNULL,
    )
    try:
        _wait_checkpoints(state, files, expected_offset=None)
        first = _peak_kb(process.pid)
        for index in range(files):
            with (folder / f"f{index:04d}.log").open("a") as stream:
                stream.write(f"run_batt.py:475: -- {index:08x} - 2 --\n" * 20)
        _wait_checkpoints(state, files, expected_offset=(folder / "f0000.log").stat().st_size)
        return first, _peak_kb(process.pid)
    finally:
        process.terminate()
        process.wait()


def _wait_checkpoints(state: Path, files: int, expected_offset: int | None) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if state.exists():
            with closing(sqlite3.connect(state)) as db:  # `with connect()` never closes
                query = "SELECT COUNT(*) FROM checkpoints WHERE live = 1"
                if expected_offset is not None:
                    query += f" AND offset >= {expected_offset}"
                if db.execute(query).fetchone()[0] >= files:
                    return
        time.sleep(0.05)
    raise TimeoutError("tail did not catch up")


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=40)
    parser.add_argument("--lines", type=int, default=25_000)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--mb", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        p50, p99 = latency(work)
        print(f"(a) latency line→event: p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p99 < 50)")
        expected, seen, rate = sustained(work, args.writers, args.lines)
        report_all, report_one = report_rate(work, args.mb)
        print(f"(b) {args.writers} writers: lines written {expected}, events seen {seen}"
              f" ({'equal' if seen == expected else 'DIFFERENT'}); tail {rate:,.0f} events/s;"
              f" report {report_all:,.0f} events/s on {os.cpu_count()} CPUs,"
              f" {report_one:,.0f} in one process; tail/report {rate / report_all:.2f}"
              f" (target ≥ 0.5), tail/report-1-process {rate / report_one:.2f}")
        first, after = memory(work, args.files)
        print(f"(c) {args.files} files followed: peak RSS {first / 1024:.1f} MB after the first"
              f" read, {after / 1024:.1f} MB after 20 more lines each")


if __name__ == "__main__":
    main()
