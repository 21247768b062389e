"""Time how long threadwatch takes to start: ``--help`` and ``report`` of a small file, against
``python -c pass`` of the same interpreter, in the same run (cron and Nagios call it every
minute on every host, so start-up is most of what they wait for).

Usage: python benchmarks/bench_startup.py [--runs 20] [--compare SRC]

Prints the median wall time of each command, its ratio to ``python -c pass``, the time it adds
to it, and the targets (``report`` of a small file under 0.25 s, ``--help`` under 0.3 s).
``--compare SRC`` also times another source tree (``PYTHONPATH=SRC``), interleaved.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "fixtures" / "logs" / "host-b" / "tmp_batt_Zq81LmNo4R_run.log"
TARGETS = {"--help": 0.30, "report --help": 0.30, "report (table)": 0.25,
           "report --format json": 0.25, "report --format nagios": 0.25}


def _commands() -> dict[str, list[str]]:
    threadwatch = [sys.executable, "-m", "threadwatch"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "--help": [*threadwatch, "--help"],
        "report --help": [*threadwatch, "report", "--help"],
        "report (table)": [*threadwatch, "report", str(SMALL)],
        "report --format json": [*threadwatch, "report", "--format", "json", str(SMALL)],
        "report --format nagios": [*threadwatch, "report", "--format", "nagios", str(SMALL)],
    }


def _time(command: list[str], env: dict[str, str] | None) -> tuple[float, float]:
    """Wall time and CPU time (user + system: steadier on a shared machine)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env)
    _, _, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def bench(runs: int, compare: Path | None) -> None:
    commands = _commands()
    # as installed: compiled modules cached (a PYTHONDONTWRITEBYTECODE=1 shell would compile
    # every module at every start)
    plain = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    envs: dict[str, dict[str, str] | None] = {"now": plain}
    if compare is not None:
        envs["then"] = {**plain, "PYTHONPATH": str(compare.resolve())}
    for command in commands.values():  # warm-up: byte code written, files in the page cache
        for env in envs.values():
            _time(command, env)
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(runs):  # interleaved, so that a busy spell hits all alike
        for name, command in commands.items():
            for tree, env in envs.items():
                if name == "python -c pass" and tree != "now":
                    continue
                times.setdefault((name, tree), []).append(_time(command, env))
    def median(name: str, tree: str) -> tuple[float, float]:
        runs_of = times[name, tree]
        return (statistics.median(w for w, _ in runs_of), statistics.median(c for _, c in runs_of))

    base, base_cpu = median("python -c pass", "now")
    print(f"start-up, {os.cpu_count()} CPUs, median of {runs} runs, {SMALL.name}")
    print(f"  {'python -c pass':<24} {base * 1000:6.0f} ms wall {base_cpu * 1000:5.0f} ms CPU")
    for name in commands:
        if name == "python -c pass":
            continue
        for tree in envs:
            wall, cpu = median(name, tree)
            target = TARGETS[name]
            verdict = "ok" if wall < target else "MISSED"
            label = name if tree == "now" else f"  then: {name}"
            print(f"  {label:<24} {wall * 1000:6.0f} ms wall {cpu * 1000:5.0f} ms CPU"
                  f"  = {wall / base:4.1f}x pass, +{(wall - base) * 1000:4.0f} ms"
                  f"   target < {target * 1000:.0f} ms wall: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--compare", type=Path, help="another source tree's src/ to compare")
    args = parser.parse_args()
    bench(args.runs, args.compare)


if __name__ == "__main__":
    main()
