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
