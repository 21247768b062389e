"""``threadwatch config check`` and ``config show``, run as the real command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from threadwatch.config import load_config

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threadwatch", "config", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_check_says_valid_or_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[tail]\nwindow_seconds = inf\n\n[[rules]]\nname = "overload-red"\n'
                   'above = 50\n')
    good = REPO / "config" / "threadwatch.toml"
    result = run("check", str(good))
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{good}: valid\n", "")
    result = run("check", str(bad), str(good))
    assert result.returncode == 3
    assert result.stdout == f"{good}: valid\n"
    assert result.stderr.splitlines() == [
        f"threadwatch: invalid config {bad}: tail.window_seconds: Input should be a finite number",
        f"threadwatch: invalid config {bad}: rules.0.above: 50 looks like a percentage: write 0.5",
    ]


def test_show_prints_what_loads_back_as_the_same_config(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[tail]\nwindow_seconds = 600\n\n[alerts.sinks.ops]\ntype = "webhook"\n'
                    'url = "${OPS_URL}"\nsecret = "${OPS_SECRET}"\n')
    result = run("show", "--config", str(mine))
    assert result.returncode == 0, result.stderr
    shown = tmp_path / "shown.toml"
    shown.write_text(result.stdout)
    assert load_config(shown) == load_config(mine)
    assert "window_seconds = 600.0" in result.stdout  # the file over the defaults
    assert "poll_seconds = 1.0" in result.stdout  # defaults included
    assert 'url = "${OPS_URL}"' in result.stdout


def test_show_hides_secrets_written_out(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[alerts.sinks.ops]\ntype = "webhook"\n'
                    'url = "https://user:pa55@hooks.example/T0/s3cr3t"\nsecret = "hmac-k3y"\n')
    result = run("show", "--config", str(mine))
    assert result.returncode == 0, result.stderr
    for secret in ("pa55", "s3cr3t", "hmac-k3y", "hooks.example"):
        assert secret not in result.stdout
    assert result.stdout.count('"<hidden>"') == 2


def test_check_says_each_inhibit_and_routing_problem_on_one_line(tmp_path: Path) -> None:
    files = {
        "source.toml": '[[alerts.inhibit]]\nsources = ["nope"]\n',
        "metric.toml": '[[alerts.inhibit]]\nsources = ["memory-error"]\nmetrics = ["bogus"]\n',
        "equal.toml": '[[alerts.inhibit]]\nsources = ["level"]\nequal = "host"\n',
        "level.toml": '[alerts.sinks.a]\ntype = "webhook"\nurl = "${A}"\nmin_level = "green"\n',
        "rule.toml": '[alerts.sinks.a]\ntype = "webhook"\nurl = "${A}"\nrules = ["zzz"]\n',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = run("check", *(str(tmp_path / name) for name in files))
    assert result.returncode == 3
    known = "(known: level, thread-cleanup-keyerror, memory-error)"
    assert result.stderr.splitlines() == [f"threadwatch: invalid config {tmp_path / name}: {line}"
                                          for name, line in zip(files, [
        f"alerts: inhibit rule 1: sources: unknown rule 'nope' {known}",
        "alerts: inhibit rule 1: metrics: unknown 'bogus' (a count or rate name, as [[rules]]"
        " use them)",
        "alerts.inhibit.0.equal: Input should be 'run', 'source' or 'any'",
        "alerts.sinks.a.min_level: a level is 'yellow' or 'red'",
        f"alerts: sink 'a': rules: unknown rule 'zzz' {known}",
    ], strict=True)]


def test_the_default_inhibit_entries_follow_the_event_rules_a_config_keeps(
        tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[[alerts.events]]\nname = "memory-error"\nkinds = ["memory_error"]\n')
    assert [rule.sources for rule in load_config(mine).alerts.inhibit] == [("memory-error",)]
    assert run("check", str(mine)).returncode == 0


def test_show_names_every_rule_and_what_the_file_changed(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[[rules]]\nname = "overload-red"\nabove = 0.6\nhold_seconds = 300\n'
                    '[[rules]]\nname = "process-pool-used-yellow"\nenabled = false\n')
    result = run("show", "--config", str(mine))
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.split("[[rules]]\n")[1:]
    assert len(blocks) == 20
    shown = {block.split("\n", 1)[0]: block for block in blocks}
    assert 'above = 0.6\n' in shown['name = "overload-red"']
    assert "hold_seconds = 300" in shown['name = "overload-red"']
    assert "enabled = false" in shown['name = "process-pool-used-yellow"']
    assert "enabled = true" in shown['name = "memory-errors-red"']


def test_check_refuses_a_sink_url_written_out_that_tail_would_refuse(tmp_path: Path) -> None:
    # it said "valid", then tail exited 3 at start: "url is not a valid http(s) URL"
    bad = tmp_path / "bad.toml"
    bad.write_text('[alerts.sinks.ops]\ntype = "slack"\n'
                   'url = "hxxps:/hooks.slack.com/services/T0/B0/s3cr3t"\n'
                   '[alerts.sinks.later]\ntype = "webhook"\nurl = "${NOT_SET_HERE}"\n')
    result = run("check", str(bad))
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == (f"threadwatch: invalid config {bad}: alerts.sinks.ops.url: not a"
                             " valid http(s) URL (value not shown)\n")  # nor is it shown
    bad.write_text('[alerts.sinks.ops]\ntype = "slack"\n'
                   'url = "https://hooks.slack.com/services/T0/B0/s3cr3t"\n')
    assert run("check", str(bad)).returncode == 0
