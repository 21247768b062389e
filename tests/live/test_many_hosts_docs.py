"""The README's "Many hosts" configurations are ones the real programs accept: its
``prometheus.yml`` (with the rules ``threadwatch rules --format prometheus`` writes) passes
``promtool check config``, its ``alertmanager.yml`` passes ``amtool check-config``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def section_blocks() -> list[str]:
    text = README.read_text("utf-8")
    section = text[text.index("\n## Many hosts\n"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)


def program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        reason = f"{name} not installed (apt-get install prometheus prometheus-alertmanager)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; required when CI is set")
        pytest.skip(reason)
    return found


def check(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_prometheus_config_and_its_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = program("promtool")
    prometheus_yml, = (block for block in section_blocks() if "scrape_configs:" in block)
    rules = subprocess.run([sys.executable, "-m", "threadwatch", "rules", "--format",
                            "prometheus"], capture_output=True, text=True, timeout=60,
                           check=True)
    (tmp_path / "threadwatch.rules.yml").write_text(rules.stdout)
    assert "/etc/prometheus/threadwatch.rules.yml" in prometheus_yml
    (tmp_path / "prometheus.yml").write_text(prometheus_yml.replace(
        "/etc/prometheus/threadwatch.rules.yml", str(tmp_path / "threadwatch.rules.yml")))
    check([promtool, "check", "config", str(tmp_path / "prometheus.yml")])


def test_the_alertmanager_config_passes_amtool(tmp_path: Path) -> None:
    amtool = program("amtool")
    alertmanager_yml, = (block for block in section_blocks() if "inhibit_rules:" in block)
    (tmp_path / "alertmanager.yml").write_text(alertmanager_yml)
    check([amtool, "check-config", str(tmp_path / "alertmanager.yml")])
