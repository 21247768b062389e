"""docs/messages.md is the message table as rendered, and says what each line feeds."""

from __future__ import annotations

from pathlib import Path

from threadwatch.events import Kind
from threadwatch.health.catalog import feeds, render_markdown
from threadwatch.parse.patterns import PATTERNS

DOC = Path(__file__).resolve().parents[2] / "docs" / "messages.md"


def test_the_document_matches_the_table() -> None:
    assert DOC.read_text("utf-8") == render_markdown(), (
        "docs/messages.md is stale: python -m threadwatch.health.catalog > docs/messages.md"
    )


def test_every_row_names_its_versions_and_meaning() -> None:
    for pattern in PATTERNS:
        assert pattern.versions and pattern.meaning, pattern.example


def test_feeds_are_measured_by_counting_the_example() -> None:
    by_example = {p.example: p for p in PATTERNS}
    start = next(p for p in PATTERNS if p.kind is Kind.TASK_START)
    assert feeds(start) == ("batches",)
    memory = next(p for p in PATTERNS if p.kind is Kind.SAMPLE_MEMORY_ERROR)
    assert feeds(memory) == ("sample_failures", "samples")
    summary = by_example["6 tasks - timeouts = 0 - tot_d_score = 3396981 in 40.930s"]
    assert feeds(summary) == ("runs_completed",)


def test_a_row_that_names_a_count_feeds_that_count_alone() -> None:
    plain = [p for p in PATTERNS if p.counts is not None]
    assert plain  # the test means something
    for pattern in plain:
        assert feeds(pattern) == (pattern.counts,), pattern.example
