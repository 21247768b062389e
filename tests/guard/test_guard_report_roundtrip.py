"""Round trip: the guard runs under real forced conditions, logs to a file, and ``threadwatch
report`` counts that file like run_batt's own messages."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from guard_items import fail_on_odd, journal_or_kill_worker
from test_guard_fork_keyerror import FORK_SCRIPT, SRC

from threadwatch.config import load_config
from threadwatch.guard import GuardPolicy, run_batch
from threadwatch.health.metrics import COUNT_KEYS
from threadwatch.report.model import build_report


@pytest.fixture
def guard_log(tmp_path: Path) -> Iterator[Path]:
    """The guard's logger writing to a file, with a typical application prefix."""
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("threadwatch.guard")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield path
    logger.removeHandler(handler)
    logger.setLevel(previous)
    handler.close()


def test_report_counts_what_the_guard_really_did(guard_log: Path, tmp_path: Path) -> None:
    policy = GuardPolicy(thread_count_source="python")

    # 1. three items, one raises: a thread pool; the other results survive
    small = run_batch(fail_on_odd, [2, 3, 4], policy)
    assert [o.ok for o in small.outcomes] == [True, False, True]

    # 2. six items, one kills its worker process: the process pool breaks, a thread pool
    #    finishes what was left
    journal = str(tmp_path / "journal")
    items = [(journal, i, 5, 5) for i in range(6)]
    broken = run_batch(journal_or_kill_worker, items, policy)
    assert [o.value for o in broken.outcomes] == [0, 10, 20, 30, 40, 50]

    # 3. 45 real threads alive: overload, sequential
    release = threading.Event()
    sleepers = [threading.Thread(target=release.wait, daemon=True) for _ in range(45)]
    for thread in sleepers:
        thread.start()
    try:
        overloaded = run_batch(fail_on_odd, [2, 4, 6, 8, 10], policy)
    finally:
        release.set()
        for thread in sleepers:
            thread.join()
    assert overloaded.executor.value == "sequential"

    # 4. a real thread-cleanup KeyError suppressed by the guard in a forked child
    child = subprocess.run(
        [sys.executable, "-S", "-c", FORK_SCRIPT, "guard", SRC],
        capture_output=True, text=True, timeout=60, check=False,
    )
    with guard_log.open("a") as log:
        log.write(child.stderr)

    expected = dict.fromkeys(COUNT_KEYS, 0)
    expected.update(
        batches=3,
        overload=1,
        threads_40_60=1,  # 45 threads + the test's own: not over 60
        pool_fallback=1,
        process_pool_fallback=1,
        sequential=1,
        thread_pool_used=2,  # the small batch, and the broken process batch after its fallback
        large_batches=2,  # 6 and 5 items: the process batch, and the overloaded one
        sample_failures=1,
        samples=3 + 6 + 5,  # the items of the three batches (guard decisions say how many)
        thread_keyerror=1 if sys.version_info >= (3, 11) else 0,
    )
    report = build_report([str(guard_log)], load_config())
    assert report.total.counts == expected
