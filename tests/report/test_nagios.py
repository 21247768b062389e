"""``report --format nagios``: one plugin status line, perfdata with the rules' ranges, the
exit code the level, run as the real command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"
PERF = re.compile(r"'([a-z0-9_]+)'=(U|[0-9.]+%?);([0-9.:]*);([0-9.:]*);([0-9]*);([0-9]*)")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threadwatch", "report", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def perfdata(line: str) -> dict[str, tuple[str, ...]]:
    perf = line.partition(" | ")[2]
    items = perf.split(" ")
    found = {m[1]: m.groups()[1:] for m in map(PERF.fullmatch, items) if m is not None}
    assert len(found) == len(items), items  # every item well formed, every label once
    return found


def test_the_fixtures_read_red_in_one_line_with_every_metric() -> None:
    result = run("--format", "nagios", str(FIXTURES))
    assert result.returncode == 2, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith("THREADWATCH RED - memory_errors 1 >= 1 (memory errors); ")
    assert line.count("|") == 1
    # 3 red and 2 yellow sources of 7 (the table's rows, README)
    assert "; 3 red, 2 yellow of 7 sources | " in line
    perf = perfdata(line)
    report = json.loads(run("--format", "json", str(FIXTURES)).stdout)
    assert len(perf) == len(report["rates"]) + len(report["counts"])
    for name, count in report["counts"].items():
        assert perf[f"{name}_count"][0] == str(count)
    # the ranges are the default rules': overload yellow > 25 %, red > 50 %
    assert perf["overload"] == ("19.05%", "25", "50", "0", "100")
    # process pool used in 70 % of large batches or fewer is yellow: alert *below* 70
    assert perf["process_pool_used"][1:3] == ("70:", "")
    # whole counts, at_least 1: alert above 0 (red for memory errors, yellow for KeyErrors)
    assert perf["memory_errors_count"] == ("1", "", "0", "0", "")
    assert perf["thread_keyerror_count"] == ("5", "0", "", "0", "")


def test_a_healthy_log_is_ok_and_says_how_much_it_saw(tmp_path: Path) -> None:
    log = tmp_path / "tmp_batt_Green0001_run.log"
    log.write_text("".join(
        f"run_batt.py:1241: -- {n:08x} - {n} start --\n"
        + "".join(f"<dynamic-code>:931: demo[{k}] - {n:08x} - 3\n" for k in range(4))
        + f"run_batt.py:1251: -- {n:08x} - {n} done - 4 candidates scored\n"
        for n in range(2)) + "run_batt.py:1300: 2 tasks - timeouts = 0 - tot_d_score = 7 in 1.0s\n")
    result = run("--format", "nagios", str(log))
    assert result.returncode == 0, result.stderr
    line = result.stdout.rstrip("\n")
    assert line.startswith("THREADWATCH GREEN - 2 batches, no threshold crossed; 1 source | ")
    assert perfdata(line)["process_pool_used"][0] == "100%"


def test_nothing_to_judge_is_unknown_and_a_pipe_cannot_end_the_text(tmp_path: Path) -> None:
    log = tmp_path / "notes|2.log"
    log.write_text("nothing of run_batt here\n")
    result = run("--format", "nagios", str(log))
    assert result.returncode == 3, result.stderr
    line = result.stdout.rstrip("\n")
    assert line.startswith("THREADWATCH UNKNOWN - no batch seen in 1 source")
    assert line.count("|") == 1 and perfdata(line)["sample_failures"][0] == "U"


def test_the_ranges_follow_rules_changed_or_disabled_by_name(tmp_path: Path) -> None:
    config = tmp_path / "tw.toml"
    config.write_text('[[rules]]\nname = "overload-red"\nabove = 0.6\n'
                      '[[rules]]\nname = "process-pool-used-yellow"\nenabled = false\n')
    result = run("--format", "nagios", "--config", str(config), str(FIXTURES))
    perf = perfdata(result.stdout.strip())
    assert perf["overload"][1:3] == ("25", "60")
    assert perf["process_pool_used"][1:3] == ("", "")  # no rule on it any more


def test_nothing_readable_or_a_bad_config_is_an_unknown_status_line(tmp_path: Path) -> None:
    # Nagios and Icinga show a plugin's stdout only: it was empty ("(No output on stdout)")
    gone = run("--format", "nagios", str(tmp_path / "gone|x.log"))
    assert gone.returncode == 3
    assert gone.stdout == (f"THREADWATCH UNKNOWN - nothing could be read: {tmp_path}/gone/x.log:"
                           " no such file or folder\n")
    assert gone.stderr.startswith("threadwatch: nothing could be read: ")
    config = tmp_path / "tw.toml"
    config.write_text('[tail]\nwindow_seconds = "x"\nflush_seconds = -1\n')
    bad = run("--format", "nagios", "--config", str(config), str(FIXTURES))
    assert bad.returncode == 3
    assert bad.stdout.startswith(f"THREADWATCH UNKNOWN - invalid config {config}: tail.")
    assert bad.stdout.endswith(" (+1 more)\n") and bad.stdout.count("\n") == 1
    assert len(bad.stderr.splitlines()) == 2  # every problem of the file, on stderr


def test_a_path_not_read_is_said_in_the_status_line(tmp_path: Path) -> None:
    # the verdict is on what could be read; that a host's log could not be is on stderr,
    # which Nagios and Icinga never show: the line said "GREEN ... 1 source" and nothing more
    healthy = FIXTURES / "host-a" / "tmp_batt_k3J9xQ2mPa_run.log"
    result = run("--format", "nagios", str(healthy), str(tmp_path / "gone.log"))
    assert result.returncode == 0, result.stderr
    head = result.stdout.partition(" | ")[0]
    assert head == (f"THREADWATCH GREEN - 5 batches, no threshold crossed; 1 source;"
                    f" 1 problem: {tmp_path}/gone.log: no such file or folder")
