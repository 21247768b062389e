"""The real command line, run as a subprocess: output, exit codes, and bad input."""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"
HEALTHY = FIXTURES / "host-a" / "tmp_batt_k3J9xQ2mPa_run.log"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threadwatch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_prints_a_table_and_exits_with_the_total_level() -> None:
    result = run("report", str(FIXTURES))
    assert result.returncode == 2, result.stderr
    assert "total" in result.stdout and "RED" in result.stdout
    assert "host-b/tmp_batt_Zq81LmNo4R_run.log" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (HEALTHY, 0),
        (FIXTURES / "host-a" / "tmp_batt_k3J9xQ2mPa_run.err", 1),
        (FIXTURES / "host-b" / "tmp_batt_Zq81LmNo4R_run.log", 2),
    ],
)
def test_exit_code_is_the_level(path: Path, code: int) -> None:
    assert run("report", str(path)).returncode == code


def test_json_output_is_one_object_with_schema_1() -> None:
    result = run("report", "--format", "json", str(FIXTURES / "host-c"))
    data = json.loads(result.stdout)
    assert data["schema"] == 1 and data["level"] == "red"
    assert len(data["sources"]) == 2
    assert result.returncode == 2


def test_glob_and_stdin_are_sources(tmp_path: Path) -> None:
    result = run("report", "--format", "json", str(FIXTURES / "*" / "*.gz"))
    assert [Path(s["path"]).name for s in json.loads(result.stdout)["sources"]] == [
        "tmp_batt_k3J9xQ2mPa_run.log.1.gz"
    ]
    piped = subprocess.run(
        [sys.executable, "-m", "threadwatch", "report", "--format", "json", "-"],
        input=HEALTHY.read_bytes(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert json.loads(piped.stdout)["counts"]["batches"] == 5


def test_a_gzip_on_stdin_is_read_like_the_file() -> None:
    rotated = FIXTURES / "host-a" / "tmp_batt_k3J9xQ2mPa_run.log.1.gz"
    piped = subprocess.run(
        [sys.executable, "-m", "threadwatch", "report", "--format", "json", "-"],
        input=rotated.read_bytes(), capture_output=True, check=False, timeout=60,
    )
    assert json.loads(piped.stdout)["counts"]["batches"] == 2


REAL = FIXTURES.parent / "real-logs" / "run_batt-2025-11-15"


def test_verbose_lists_what_a_folder_scan_skipped() -> None:
    quiet = run("report", "--format", "json", str(REAL / "normal"))
    assert quiet.stderr == ""
    loud = run("report", "--format", "json", "--verbose", str(REAL / "normal"))
    skipped = sorted(Path(line.split(": ")[1]).name for line in loud.stderr.splitlines())
    assert skipped == ["COMMANDS", "README.txt", "tmp_batt_N0rmal0001_run.card_stdout",
                       "tmp_batt_N0rmal0001_run.time"]
    assert all(line.endswith("matches no [sources] include pattern)")
               for line in loud.stderr.splitlines())


def test_a_source_without_progress_lines_says_why_in_the_table() -> None:
    result = run("report", str(REAL / "normal"))
    assert "no run_batt progress line" in " ".join(result.stdout.split())
    assert result.returncode == 0  # the total: two green runs


def test_empty_file_is_unknown_exit_3(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    result = run("report", str(empty))
    assert result.returncode == 3
    assert "UNKNOWN" in result.stdout


def test_missing_path_is_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    result = run("report", "--format", "json", str(HEALTHY), str(tmp_path / "gone.log"))
    assert result.returncode == 0
    assert result.stderr.strip() == f"threadwatch: {tmp_path / 'gone.log'}: no such file or folder"
    assert json.loads(result.stdout)["problems"] == [
        f"{tmp_path / 'gone.log'}: no such file or folder"
    ]


def test_nothing_readable_exits_3_with_one_line(tmp_path: Path) -> None:
    result = run("report", str(tmp_path / "gone.log"))
    assert result.returncode == 3
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_corrupt_gzip_is_skipped_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "old.log.2.gz"
    bad.write_bytes(gzip.compress(b"run_batt.py:475: -- 1a2b3c4d - 3 --\n" * 100)[:-30])
    result = run("report", "--format", "json", str(HEALTHY), str(bad))
    assert result.returncode == 0
    assert f"{bad}: cannot read" in result.stderr


def test_bad_bytes_and_a_ten_megabyte_line_do_not_stop_the_report(tmp_path: Path) -> None:
    log = tmp_path / "mixed.log"
    log.write_bytes(
        b"\xff\xfe\x00\x00garbage \xc3\x28\n" + b"x" * 10_000_000 + b"\n" + HEALTHY.read_bytes()
    )
    result = run("report", "--format", "json", str(log))
    assert result.returncode == 0
    assert json.loads(result.stdout)["counts"]["batches"] == 5
    assert "skipped a line of 10000001 bytes" in result.stderr


def test_invalid_config_exits_3_naming_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "tw.toml"
    config.write_text("[inference]\nprocess_min_batch = 'four'\n")
    result = run("report", "--config", str(config), str(HEALTHY))
    assert result.returncode == 3
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert str(config) in line and "inference.process_min_batch" in line


def test_config_changes_the_counts(tmp_path: Path) -> None:
    config = tmp_path / "tw.toml"
    config.write_text("[inference]\nprocess_min_batch = 6\n")  # now only 4d5e6f70 is "process"
    result = run("report", "--config", str(config), "--format", "json", str(HEALTHY))
    counts = json.loads(result.stdout)["counts"]
    # the batches of 4 and 5 samples are small now: threads are right for them, and the one
    # large batch ran on the process pool (100 %): still green
    assert (counts["process_pool_used"], counts["large_batches"]) == (1, 1)
    assert result.returncode == 0


def test_a_rule_changed_by_name_changes_the_verdict(tmp_path: Path) -> None:
    config = tmp_path / "tw.toml"
    # 1 failed sample in 23 (4.3 %): yellow from 4 % on
    config.write_text('[[rules]]\nname = "sample-failures-yellow"\nat_least = 0.04\n')
    result = run("report", "--config", str(config), "--format", "json", str(HEALTHY))
    assert result.returncode == 1
    (reason,) = json.loads(result.stdout)["reasons"]
    assert (reason["rule"], reason["threshold"]) == ("sample-failures-yellow", 0.04)


def test_escape_sequences_never_reach_the_terminal(tmp_path: Path) -> None:
    evil = tmp_path / "evil\x1b]0;owned\x07\x1b[31m.log"
    evil.write_bytes(HEALTHY.read_bytes())
    result = run("report", str(evil), str(tmp_path / "gone\x1b[2J.log"))
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\x1b" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "No such option: --bogus"),
        (["nope"], "No such command 'nope'"),
        (["report", "--bogus", "x"], "No such option: --bogus"),
        (["report"], "Missing argument 'PATH'"),
        (["report", "--format", "xml", "x"], "Invalid value for '--format'"),
        (["tail", "--from-end"], "Missing argument 'PATH'"),
        (["tail", "--format", "xml", "x"], "Invalid value for '--format'"),
        (["tail", "--state"], "Option '--state' requires an argument"),
        (["alert-test", "--sink"], "Option '--sink' requires an argument"),
        (["alert-test", "extra"], "Got unexpected extra argument"),
        (["alerts", "--limit", "many"], "Invalid value for '--limit'"),
        (["alerts", "--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_a_usage_error_exits_3_with_the_usage_message(args: list[str], message: str) -> None:
    # click exits 2, which monitoring reads as CRITICAL (a red verdict); errors are UNKNOWN
    result = run(*args)
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert message in result.stderr


def test_version_prints_the_installed_version() -> None:
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"threadwatch {importlib.metadata.version('threadwatch')}\n"
    assert result.stderr == ""


def test_help_still_exits_0() -> None:
    result = run("report", "--help")
    assert result.returncode == 0, result.stderr
    assert "--format" in result.stdout


def _command_paths() -> list[list[str]]:
    from typer.main import get_command  # noqa: PLC0415

    from threadwatch.cli import app  # noqa: PLC0415 - the command tree, to walk it

    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return paths


def test_help_shows_real_metavars_on_every_command() -> None:
    """`PATH...`, as manual pages write it, not typer's `{PATH}...` nor Python types."""
    paths = _command_paths()
    assert ["report"] in paths and ["config", "check"] in paths
    for path in paths:
        result = run(*path, "--help")
        assert result.returncode == 0, path
        usage = result.stdout.splitlines()[0]
        assert "{" not in usage and "list[" not in result.stdout, (path, result.stdout)
    assert "Usage: threadwatch report [OPTIONS] PATH..." in run("report", "--help").stdout


@pytest.mark.parametrize("args", [["--help"], ["report", "--help"], ["tail", "--help"],
                                  ["report"], ["config", "check", "--help"]])
def test_help_and_usage_errors_import_no_settings_models(args: list[str]) -> None:
    """Building the settings models is a third of a report's start-up: help and usage errors,
    which read no config, do without them (benchmarks/bench_startup.py times it)."""
    code = (
        "import sys\n"
        "from threadwatch.cli import app\n"  # main would end the process (cli/leave.py)
        f"sys.argv = ['threadwatch', *{args!r}]\n"
        "try:\n    app(prog_name='threadwatch')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m == 'threadwatch.config'"
        " or m.endswith('settings') and m.startswith('threadwatch')), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.stderr.splitlines()[-1] == "[]", result.stderr


def _as_a_user_command(*args: str) -> list[str]:
    """``threadwatch ARGS`` as a user whom permission bits stop: as root (whom they do not
    stop), with the capabilities that override them dropped (``setpriv``)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            if os.environ.get("CI"):
                pytest.fail("setpriv is missing (util-linux)")
            pytest.skip("running as root without setpriv (util-linux): permissions do not apply")
        dropped = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--bounding-set={dropped}", f"--inh-caps={dropped}"]
    return [*prefix, sys.executable, "-m", "threadwatch", *args]


def _as_a_user(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_as_a_user_command(*args), capture_output=True, text=True,
                          timeout=120, check=False)


def _logs_with_a_closed_folder(tmp_path: Path) -> tuple[Path, Path]:
    """``logs/host-a`` with a healthy log, and ``logs/host-b`` (returned second) with one but
    no permission at all (the caller gives it back its mode)."""
    logs = tmp_path / "logs"
    closed = logs / "host-b"
    (logs / "host-a").mkdir(parents=True)
    closed.mkdir()
    (logs / "host-a" / HEALTHY.name).write_bytes(HEALTHY.read_bytes())
    (closed / "run.log").write_bytes(HEALTHY.read_bytes())
    closed.chmod(0o000)
    return logs, closed


def test_a_folder_that_cannot_be_read_is_said_not_taken_for_an_empty_one(
    tmp_path: Path,
) -> None:
    # it was skipped without a word: "logs: no log files in this folder", or a green verdict
    # with a host's logs left out
    logs, closed = _logs_with_a_closed_folder(tmp_path)
    try:
        partly = _as_a_user("report", "--format", "json", str(logs))
        not_at_all = _as_a_user("report", str(closed))
    finally:
        closed.chmod(0o755)
    assert partly.returncode == 0, partly.stderr  # what could be read is judged
    line = f"{closed}: cannot read (Permission denied)"
    assert partly.stderr == f"threadwatch: {line}\n"
    assert json.loads(partly.stdout)["problems"] == [line]
    assert (not_at_all.returncode, not_at_all.stderr) == (
        3, f"threadwatch: nothing could be read: {line}\n")


def test_report_help_says_what_proc_divides_by_and_every_way_a_run_ends() -> None:
    from threadwatch.report.runs import RunState  # noqa: PLC0415 - the states named

    text = run("report", "--help").stdout
    assert "\b" not in text  # click's keep-as-is marker, printed raw where misplaced
    shown = " ".join(text.split())
    assert "share of the large batches (4 samples or more" in shown  # not of every batch
    ended = shown.partition("how it ended: ")[2].partition(" A run ")[0]
    assert set(ended.split(", ")) == {state.value for state in RunState}, ended


def test_tail_says_once_that_a_subfolder_cannot_be_read_and_follows_the_rest(
    tmp_path: Path,
) -> None:
    logs, closed = _logs_with_a_closed_folder(tmp_path)
    try:
        command = _as_a_user_command("tail", "--format", "jsonl", "--state",
                                     str(tmp_path / "state.db"), str(logs))
        tail = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            assert tail.stdout is not None
            first = json.loads(tail.stdout.readline())  # the readable log is followed
        finally:
            tail.send_signal(signal.SIGTERM)
            _, stderr = tail.communicate(timeout=30)
    finally:
        closed.chmod(0o755)
    assert tail.returncode == 0, stderr
    assert first["source"] == str(logs / "host-a" / HEALTHY.name)
    assert stderr == (f"threadwatch: {logs}/host-b: cannot read (Permission denied);"
                      " its logs are not followed\n")
