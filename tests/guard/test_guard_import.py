"""The guard's public surface, and that importing it stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import threadwatch.guard

SRC = str(Path(__file__).resolve().parents[2] / "src")
HEAVY = {"typer", "rich", "pydantic", "watchdog", "httpx"}


def _modules_after(statement: str) -> set[str]:
    code = f"{statement}; import sys, json; print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": SRC}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return set(json.loads(run.stdout))


def test_public_names_are_pinned() -> None:
    assert threadwatch.guard.__all__ == [
        "LOGGER_NAME",
        "POOL_ERRORS",
        "BatchResult",
        "Decision",
        "DecisionReason",
        "ExecutorKind",
        "Fallback",
        "GuardPolicy",
        "ItemOutcome",
        "ItemStatus",
        "SuppressedCleanupError",
        "cancel_on_signals",
        "cancel_running_batches",
        "count_threads",
        "decide",
        "default_pool_factory",
        "format_event",
        "install_thread_cleanup_guard",
        "is_thread_cleanup_guard_installed",
        "log_lines_to",
        "run_batch",
        "suppressed_count",
        "suppressed_records",
        "thread_cleanup_guard",
        "uninstall_thread_cleanup_guard",
    ]
    assert all(hasattr(threadwatch.guard, name) for name in threadwatch.guard.__all__)


def test_import_pulls_in_no_heavy_dependency() -> None:
    modules = _modules_after("import threadwatch.guard")
    assert {name.split(".")[0] for name in modules} & HEAVY == set()


def test_import_pulls_in_nothing_else_of_threadwatch() -> None:
    modules = _modules_after("import threadwatch.guard")
    ours = {name for name in modules if name.startswith("threadwatch.")}
    assert {name for name in ours if not name.startswith("threadwatch.guard")} == set()


def test_import_defers_multiprocessing_until_a_process_pool_is_needed() -> None:
    assert "multiprocessing" not in _modules_after("import threadwatch.guard")


BATCHES = """
from threadwatch.guard import GuardPolicy, run_batch
from guard_items import double
if __name__ == "__main__":
    {runs}
"""


def _modules_after_batches(tmp_path: Path, runs: str) -> set[str]:
    """sys.modules of a fresh interpreter after it ran ``runs`` (real batches) as a script."""
    script = tmp_path / "batches.py"
    script.write_text(BATCHES.format(runs=runs) + "    import sys, json\n"
                      "    print(json.dumps(sorted(sys.modules)))\n")
    items = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, items])}
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=True,
        timeout=60,
    )
    return set(json.loads(run.stdout.splitlines()[-1]))


def test_loky_is_not_imported_unless_a_loky_pool_is_asked_for(tmp_path: Path) -> None:
    # a stdlib process batch, a thread batch, and a thread batch under pool="loky"
    modules = _modules_after_batches(
        tmp_path,
        "run_batch(double, range(6)); run_batch(double, range(2)); "
        "run_batch(double, range(2), GuardPolicy(pool='loky'))",
    )
    assert "multiprocessing" in modules  # the stdlib process pool ran
    assert {name for name in modules if name.split(".")[0] in ("loky", "cloudpickle")} == set()


def test_a_loky_process_batch_imports_loky(tmp_path: Path) -> None:
    modules = _modules_after_batches(
        tmp_path, "run_batch(double, range(6), GuardPolicy(pool='loky'))"
    )
    assert "loky" in modules
