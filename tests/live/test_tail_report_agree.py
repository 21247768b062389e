"""``tail`` and ``report`` count every fixture alike: the same lines, the same counts.

``tail`` follows a copy of every bundled and real fixture log (rotated ``.gz`` copies are not
followed: their content was read before rotation) until it has read them all; its window
counts per source must equal ``report``'s. The one difference is by design: a run with no
summary at the end of a file is *cut off* for ``report`` (the file is old) and, for ``tail``,
open until it stalls, so ``cut_off_runs`` is compared apart.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tests.sources.tail_helpers import FAST, config_with, running_tail, wait_until

from threadwatch.health.levels import Level
from threadwatch.report.model import build_report

ROOT = Path(__file__).resolve().parents[2] / "fixtures"


def test_tail_and_report_agree_on_every_fixture(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    shutil.copytree(ROOT / "logs", logs / "bundled")
    shutil.copytree(ROOT / "real-logs", logs / "real")
    config = config_with(**FAST, flush_seconds=0.2)
    report = build_report([str(logs)], config, workers=1, now=time.time() + 86400)
    # sources where report found something (tail tracks a source from its first event)
    followed = {s.scope: s for s in report.sources
                if not s.scope.endswith(".gz") and any(s.counts.values())}
    with running_tail([str(logs)], tmp_path / "state.db", config) as (tail, _):
        def caught_up() -> bool:
            seen = {h.scope for h in tail.health.snapshot(time.time())}
            return set(followed) <= seen

        wait_until(caught_up, "tail to read every fixture")
        time.sleep(1.0)  # a last traceback block is flushed after flush_seconds
        wait_until(lambda: not tail.source.behind, "tail to catch up")
        snapshot = {h.scope: h for h in tail.health.snapshot(time.time())}
    for scope, source in followed.items():
        live = dict(snapshot[scope].counts)
        expected = dict(source.counts)
        assert live.pop("stalled") == expected.pop("stalled") == 0
        cut_off = expected.pop("cut_off_runs") - live.pop("cut_off_runs")
        assert live == expected, scope
        assert cut_off in (0, 1), scope  # only a file's last run: open for tail


# A guarded run of examples/run_batt_like as it wrote its log (the guard's lines on standard
# output; the MATCH lines left out): tasks 0 and 2 are large (4 and 5 samples) and ran on the
# process pool, task 1 (3 samples) rightly ran on threads.
GUARDED_RUN = """\
run_batt.py:160: -- 0ca9ddb6 - 0 start --
threadwatch-guard event=decision batch=0ca9ddb6-0 items=4 threads=1 executor=process workers=3 \
reason=large_batch pool=loky context=loky
<dynamic-code>:105: demo[0] - 0ca9ddb6 - 4
<dynamic-code>:105: demo[1] - 0ca9ddb6 - 4
<dynamic-code>:105: demo[2] - 0ca9ddb6 - 4
<dynamic-code>:105: test[0] - 0ca9ddb6 - 4
threadwatch-guard event=batch_done batch=0ca9ddb6-0 executor=process items=4 ok=4 failed=0 \
seconds=0.294 timed_out=0 cancelled=0 memory_errors=0 stopped=-
run_batt.py:164: -- 0ca9ddb6 - 0 done - 16 candidates scored
run_batt.py:160: -- 269e22fb - 1 start --
threadwatch-guard event=decision batch=269e22fb-1 items=3 threads=2 executor=thread workers=3 \
reason=small_batch pool=stdlib context=-
run_batt.py:105: demo[0] - 269e22fb - 4
run_batt.py:105: demo[1] - 269e22fb - 4
run_batt.py:105: test[0] - 269e22fb - 4
threadwatch-guard event=batch_done batch=269e22fb-1 executor=thread items=3 ok=3 failed=0 \
seconds=0.004 timed_out=0 cancelled=0 memory_errors=0 stopped=-
run_batt.py:164: -- 269e22fb - 1 done - 12 candidates scored
run_batt.py:160: -- 3bd292e8 - 2 start --
threadwatch-guard event=decision batch=3bd292e8-2 items=5 threads=1 executor=process workers=3 \
reason=large_batch pool=loky context=loky
<dynamic-code>:105: demo[0] - 3bd292e8 - 4
<dynamic-code>:105: demo[1] - 3bd292e8 - 4
<dynamic-code>:105: demo[2] - 3bd292e8 - 4
<dynamic-code>:105: test[0] - 3bd292e8 - 4
<dynamic-code>:100: -- 3bd292e8 - demo[3] timed out
threadwatch-guard event=batch_done batch=3bd292e8-2 executor=process items=5 ok=5 failed=0 \
seconds=0.604 timed_out=0 cancelled=0 memory_errors=0 stopped=-
run_batt.py:164: -- 3bd292e8 - 2 done - 16 candidates scored
3 tasks - timeouts = 0 - tot_d_score = 11 in 0.903s
"""


def test_a_guarded_run_with_a_small_batch_on_threads_is_green_in_tail_and_report(
    tmp_path: Path,
) -> None:
    log = tmp_path / "tmp_batt_T3st_run.log"
    log.write_text(GUARDED_RUN)
    config = config_with(**FAST)
    report = build_report([str(log)], config, workers=1)
    with running_tail([str(log)], tmp_path / "state.db", config) as (tail, _):
        def read_to_the_summary() -> bool:
            health = {h.scope: h for h in tail.health.snapshot(time.time())}
            return str(log) in health and health[str(log)].counts["runs_completed"] == 1

        wait_until(read_to_the_summary, "tail to read the run")
        (live,) = [h for h in tail.health.snapshot(time.time()) if h.scope == str(log)]
    # by hand: 3 batches, 2 of them large (tasks 0 and 2), both on the process pool: 100 %;
    # task 1 on threads; 1 timeout in 4 + 3 + 5 = 12 samples (8 %, under 10 %): green
    (source,) = report.sources
    for judged in (source, live):
        counts = judged.counts
        assert (counts["batches"], counts["large_batches"], counts["process_pool_used"],
                counts["thread_pool_used"], counts["samples"]) == (3, 2, 2, 1, 12)
        assert judged.rates["process_pool_used"] == 1.0
        assert judged.verdict.level is Level.GREEN, judged.verdict.reasons
