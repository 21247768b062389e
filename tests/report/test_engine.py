"""A file read in parts (``report``'s parallel scan of a large file) counts exactly what it
counts read whole, wherever ``_boundary`` may cut it.

The parts are scanned as the workers scan them (``_scan`` of a ``_Job``: a later part's tally
is detached), sent through pickle (they cross processes) and merged by ``_merge_parts``; no
48 MB file is needed to choose the cuts: every point ``_boundary`` can choose in a file is the
one it chooses from the start of some line, so asking it from every line start finds them all.
"""

from __future__ import annotations

import itertools
import pickle
from pathlib import Path
from typing import Any

import pytest

from threadwatch.config import load_config
from threadwatch.report import engine
from threadwatch.report.engine import SourceScan, _boundary, _Job, _merge_parts, _scan
from threadwatch.sources.files import is_compressed

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config()
FIXTURES = sorted(
    path
    for folder in ("logs", "runs", "real-logs")
    for path in (ROOT / "fixtures" / folder).rglob("*")
    if path.is_file() and path.suffix in {".log", ".err"} and not is_compressed(str(path))
)
# three-part cuts per fixture (pairs spread evenly over all pairs; every pair of the largest
# fixture would take about a minute); the synthetic logs below are cut at every pair
THREE_PART_CUTS = 40


def line_starts(path: Path) -> list[int]:
    data = path.read_bytes()
    return [0] + [i + 1 for i, byte in enumerate(data) if byte == 0x0A and i + 1 < len(data)]


def cut_points(path: Path) -> list[int]:
    """Every offset ``_boundary`` can choose in ``path``."""
    cuts = {_boundary(str(path), near, CONFIG) for near in line_starts(path)}
    return sorted(cut for cut in cuts if cut is not None)


def scan_whole(path: Path, runs: bool) -> SourceScan:
    scan = _scan(_Job(str(path), 0, None, detached=False, runs=runs), CONFIG)
    scan.tally.finish()
    return scan


def scan_in_parts(path: Path, cuts: tuple[int, ...], runs: bool) -> SourceScan:
    """``path`` scanned in parts cut at ``cuts`` and merged as ``scan_paths`` does."""
    bounds: list[int | None] = [0, *cuts, None]
    parts = [
        pickle.loads(pickle.dumps(
            _scan(_Job(str(path), start, end, detached=start > 0, runs=runs), CONFIG)))
        for start, end in itertools.pairwise(bounds)
        if start is not None
    ]
    merged = _merge_parts(parts)
    merged.tally.finish()
    return merged


def outcome(scan: SourceScan) -> dict[str, Any]:
    """All that a report reads of a finished scan."""
    tally = scan.tally
    return {
        "counts": tally.counts,
        "runs": None if tally.runs is None else [
            (run.counts, run.date, run.started, run.ended, run.cut_off, run.last_start)
            for run in tally.runs
        ],
        "run_open": tally.run_open,
        "last_start": tally.last_start,
        "program_batches": tally.program_batches,
        "named_guard_batches": tally.named_guard_batches,
        "lines": scan.lines,
        "bytes_read": scan.bytes_read,
        "problems": scan.problems,
        "read_ok": scan.read_ok,
    }


def assert_parts_agree(path: Path, three_part_cuts: int | None = THREE_PART_CUTS) -> int:
    """Every two-part cut and ``three_part_cuts`` three-part ones (all when None), with and
    without runs, merge to the whole file's outcome; the number of cuts is returned."""
    cuts = cut_points(path)
    pairs = list(itertools.combinations(cuts, 2))
    if three_part_cuts is not None and len(pairs) > three_part_cuts:
        step = len(pairs) / three_part_cuts
        pairs = [pairs[int(i * step)] for i in range(three_part_cuts)]
    for runs in (False, True):
        whole = outcome(scan_whole(path, runs))
        for cut in [(cut,) for cut in cuts] + pairs:
            parted = outcome(scan_in_parts(path, cut, runs))
            assert parted == whole, _explain(path, cut, runs, parted, whole)
    return len(cuts)


def _explain(path: Path, cuts: tuple[int, ...], runs: bool, parted: dict[str, Any],
             whole: dict[str, Any]) -> str:
    data = path.read_bytes()
    lines = [[*data[max(0, cut - 120):cut].decode(errors="replace").splitlines()[-2:],
              "<<cut>>", *data[cut:cut + 120].decode(errors="replace").splitlines()[:2]]
             for cut in cuts]
    differ = {key: _difference(parted[key], whole[key])
              for key in whole if parted[key] != whole[key]}
    return f"{path.name} cut at {cuts} runs={runs}: {lines}: (parts, whole) {differ}"


def _difference(parted: Any, whole: Any) -> Any:
    if isinstance(parted, dict) and isinstance(whole, dict):
        return {key: (parted.get(key), whole.get(key))
                for key in whole.keys() | parted.keys() if parted.get(key) != whole.get(key)}
    return (parted, whole)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_fixture_cut_at_any_boundary_counts_what_it_counts_whole(path: Path) -> None:
    assert_parts_agree(path)


def test_the_fixtures_offer_cut_points() -> None:
    # the test above proves nothing on files without a boundary: most fixtures have many
    with_cuts = [path for path in FIXTURES if cut_points(path)]
    assert len(FIXTURES) >= 40 and len(with_cuts) >= 17


# -- synthetic logs: the shapes where a cut is risky, every two- and three-part cut ----------


def start(task: str, index: int) -> str:
    return f"run_batt.py:1241: -- {task} - {index} start --\n"


def bare(task: str, index: int) -> str:  # the older program's line that opens a batch
    return f"run_batt.py:475: -- {task} - {index} --\n"


def samples(task: str, *names: str) -> str:
    return "".join(f"<dynamic-code>:931: {name} - {task} - 32\n" for name in names)


def done(task: str, index: int) -> str:
    return f"run_batt.py:1251: -- {task} - {index} done - 32 candidates scored\n"


def guard(event: str, task: str, index: int, fields: str) -> str:
    return f"threadwatch-guard event={event} batch={task}-{index} {fields}\n"


FOUR = ("demo[0]", "demo[1]", "demo[2]", "test[0]")
LOADING = "utils.py:241: loading {task}\n"
FILTERED = "run_batt.py:1310: -- Filtered to 32 unique candidates (from 113)\n"
OVERLOAD = "run_batt.py:566: -- System overloaded (47 threads), using sequential processing\n"
FALLBACK = ("run_batt.py:601: -- ProcessPoolExecutor failed (OSError: [Errno 12] Cannot allocate"
            " memory), trying ThreadPoolExecutor\n")
CRITICAL = ("run_batt.py:292: CRITICAL: MemoryError during future collection. System out of"
            " memory. Exiting.\n")
OLD_SUMMARY = "3 tasks - 0 timeouts\n"
NEW_SUMMARY = "2 tasks - timeouts = 0 - tot_d_score = 1663206 in 6.470s\n"
TRACEBACK = ('Traceback (most recent call last):\n  File "/srv/batt/run_batt.py", line 312, in'
             " score_sample\n    grid = cache[key]\n           ~~~~~^^^^^\nKeyError: 'x'\n")


def date(hour: int) -> str:
    return f"Fri Nov 27 {hour:02d}:00:01 UTC 2026\n"


SYNTHETIC = {
    # the older program: bare batch lines only, both summaries, a program line right after
    # each summary (a cut there begins a part with no run boundary before the next batch)
    "bare_batch_lines_and_summaries": (
        bare("00000001", 0) + samples("00000001", *FOUR) + FILTERED
        + bare("00000002", 1) + samples("00000002", "demo[0]") + OLD_SUMMARY + FILTERED
        + bare("00000003", 0) + samples("00000003", *FOUR) + NEW_SUMMARY + FILTERED
        + "run_batt.py:93: --- 00000004 - 0\n" + samples("00000004", "demo[0]", "demo[1]")
        + bare("00000005", 1) + OVERLOAD + samples("00000005", "demo[0]") + FILTERED
        + bare("00000006", 0) + samples("00000006", *FOUR)  # goes back: the run was cut off
    ),
    # start lines, with the bare batch line right after or a few lines later (2025-10 versions)
    "start_then_bare_batch_line": (
        start("00000001", 0) + LOADING.format(task="00000001") + FILTERED + bare("00000001", 0)
        + samples("00000001", *FOUR) + done("00000001", 0)
        + start("00000002", 1) + bare("00000002", 1) + samples("00000002", "demo[0]")
        + start("00000003", 2) + LOADING.format(task="00000003") + bare("00000003", 2)
        + bare("00000003", 2) + samples("00000003", *FOUR) + NEW_SUMMARY
        + start("00000004", 0) + LOADING.format(task="00000004") + bare("00000004", 0)
    ),
    # samples of a task straddling a cut, other lines about its batch among them, and a
    # task's samples after the next task started
    "samples_straddling": (
        start("00000001", 0) + samples("00000001", "demo[0]", "demo[1]") + OVERLOAD
        + samples("00000001", "demo[2]", "demo[1]", "test[0]")
        + "<dynamic-code>:919: -- 00000001 - demo[3] timed out\n"
        + start("00000002", 1) + FALLBACK + samples("00000001", "test[1]")
        + samples("00000002", *FOUR) + "run_batt.py:291: -- 00000002 - demo[0] failed due"
        " to MemoryError\n" + CRITICAL + samples("00000002", "demo[3]")
        + start("00000003", 2) + samples("00000003", "demo[0]") + TRACEBACK
        + samples("00000003", "demo[1]", "demo[2]") + done("00000003", 2)
    ),
    # `date` lines: runs with and without their summaries, two dates in a row, a date just
    # before a program line
    "date_lines": (
        "Generating batt: x\n" + date(9) + start("00000001", 0) + samples("00000001", *FOUR)
        + start("00000002", 1) + samples("00000002", "demo[0]") + NEW_SUMMARY
        + date(10) + date(11) + start("00000003", 0) + OVERLOAD + samples("00000003", *FOUR)
        + date(12) + FILTERED + start("00000004", 0) + samples("00000004", *FOUR) + NEW_SUMMARY
        + FILTERED + date(13) + bare("00000005", 0) + samples("00000005", "demo[0]")
    ),
    # the guard's lines in the program's stream: a named batch joins the task's batch, its
    # item lines and the program's lines about one sample count once
    "guard_named_batches": (
        start("0ca9ddb6", 0) + LOADING.format(task="0ca9ddb6")
        + guard("decision", "0ca9ddb6", 0, "items=4 threads=3 executor=process workers=3"
                " reason=large_batch context=forkserver")
        + samples("0ca9ddb6", "demo[0]")
        + guard("item_failed", "0ca9ddb6", 0, 'index=1 error=KeyError message="5"')
        + FILTERED + "run_batt.py:291: -- 0ca9ddb6 - demo[1] failed due to MemoryError\n"
        + guard("item_timed_out", "0ca9ddb6", 0, "index=2 seconds=0.8") + FILTERED
        + "<dynamic-code>:919: -- 0ca9ddb6 - demo[2] timed out\n"
        + guard("batch_done", "0ca9ddb6", 0, "executor=thread items=4 ok=2 failed=2 seconds=1")
        + samples("0ca9ddb6", "demo[3]", "test[0]") + done("0ca9ddb6", 0)
        + start("269e22fb", 1) + samples("269e22fb", "demo[0]")
        + guard("memory_error", "269e22fb", 1, "index=0 action=stop") + FILTERED + CRITICAL
        + guard("decision", "269e22fb", 1, "items=2 threads=48 executor=sequential workers=1"
                " reason=overload context=-") + FILTERED + NEW_SUMMARY
    ),
    # `timeout -k`: TERM, then KILL after more of the program's lines (one script timeout)
    "timeout_term_then_kill": (
        start("00000001", 0) + samples("00000001", "demo[0]")
        + "timeout: sending signal TERM to command 'python'\n" + FILTERED + FILTERED
        + "timeout: sending signal KILL to command 'python'\n" + start("00000002", 0)
        + "timeout: sending signal KILL to command 'python'\n" + FILTERED
        + start("00000003", 1) + samples("00000003", "demo[0]") + FILTERED + NEW_SUMMARY
        + FILTERED
    ),
    # the guard's own batches (not named after a task) among the program's lines
    "guard_own_batches": (
        start("00000001", 0) + samples("00000001", "demo[0]")
        + guard("decision", "8532", 1, "items=6 threads=1 executor=process workers=3"
                " reason=large_batch context=forkserver") + FILTERED
        + guard("fallback", "8532", 1, 'from=process to=thread error=BrokenProcessPool'
                ' message="gone" remaining=1') + FILTERED
        + guard("item_failed", "8532", 1, 'index=1 error=KeyError message="5"') + FILTERED
        + guard("batch_done", "8532", 1, "executor=thread items=6 ok=5 failed=1 seconds=0.3")
        + FILTERED + guard("decision", "8532", 2, "items=2 threads=1 executor=thread"
                           " workers=3 reason=small_batch context=-") + FILTERED
        + guard("batch_done", "8532", 2, "executor=sequential items=2 ok=2 failed=0 seconds=1")
        + FILTERED + samples("00000001", "demo[1]") + FILTERED
    ),
}


@pytest.mark.parametrize("name", SYNTHETIC)
def test_a_risky_shape_cut_at_any_boundary_counts_what_it_counts_whole(
    name: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{name}.log"
    path.write_text(SYNTHETIC[name])
    assert assert_parts_agree(path, three_part_cuts=None) >= 3


def test_the_risky_shapes_one_after_another_twice_count_what_they_count_whole(
    tmp_path: Path
) -> None:
    # each shape's lines now follow another's, and the second time its tasks have batches
    # open from the first (a bare batch line may join a start line of the round before)
    path = tmp_path / "shapes.log"
    path.write_text("".join(SYNTHETIC.values()) * 2)
    assert assert_parts_agree(path) >= 100


def at_line(text: str, line: str) -> int:
    return len(text[:text.index(line)].encode())


@pytest.mark.parametrize(("text", "near", "boundary"), [
    # between a start line and its bare batch line: after the bare line
    (start("00000001", 0) + LOADING.format(task="00000001") + bare("00000001", 0)
     + samples("00000001", "demo[0]"), "utils.py", "<dynamic-code>"),
    # after a run summary, with bare batch lines: after the next run's first batch line
    (bare("00000001", 0) + OLD_SUMMARY + FILTERED + bare("00000002", 0)
     + samples("00000002", "demo[0]"), "run_batt.py:1310", "<dynamic-code>"),
    # ... but a task start line after it is a boundary
    (bare("00000001", 0) + NEW_SUMMARY + FILTERED + start("00000002", 0)
     + samples("00000002", "demo[0]"), "run_batt.py:1310", "run_batt.py:1310"),
    # inside a guard batch: after the guard's batch_done
    (start("00000001", 0) + guard("decision", "8532", 1, "items=2 executor=thread")
     + FILTERED + guard("batch_done", "8532", 1, "executor=sequential items=2") + OVERLOAD,
     "run_batt.py:1310", "run_batt.py:566"),
    # before a `timeout` KILL line: after it
    ("timeout: sending signal TERM to command 'python'\n" + FILTERED
     + "timeout: sending signal KILL to command 'python'\n" + OVERLOAD, "run_batt.py:1310",
     "run_batt.py:566"),
])
def test_a_boundary_moves_past_a_line_its_part_could_not_count_alone(
    text: str, near: str, boundary: str, tmp_path: Path
) -> None:
    path = tmp_path / "t.log"
    path.write_text(text)
    found = _boundary(str(path), at_line(text, near), CONFIG)
    assert found == at_line(text, boundary)


def test_a_large_file_of_the_risky_shapes_read_by_parallel_workers_counts_as_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every shape many times over (other task ids each time), cut where ``_jobs_for`` cuts
    # for 5 workers
    path = tmp_path / "big.log"
    shapes = "".join(SYNTHETIC.values())
    path.write_text("".join(shapes.replace("0000000", f"{i:07x}") for i in range(200)))
    whole = [outcome(scan_whole(path, runs)) for runs in (False, True)]
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 1 << 20)
    jobs = engine._jobs_for(str(path), 5, CONFIG, runs=False)
    assert len(jobs) == 5
    for runs, expected in zip((False, True), whole, strict=True):
        (scan,) = engine.scan_paths([str(path)], CONFIG, workers=5, runs=runs)
        assert outcome(scan) == expected
