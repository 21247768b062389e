"""What a reader needs is written where they read it: the product (code, shipped config, docs,
examples) never sends them to the team's internal design notes."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ["src", "config", "docs", "examples", "benchmarks", "README.md", "CONTRIBUTING.md"]


def test_no_shipped_file_cites_the_internal_brief() -> None:
    files = [p for top in SHIPPED for p in ([REPO / top] if (REPO / top).is_file()
                                           else (REPO / top).rglob("*"))
             if p.is_file() and p.suffix in {".py", ".md", ".toml", ".sh", ".txt", ""}]
    assert len(files) > 50
    citing = [str(p.relative_to(REPO)) for p in files
              if "BRIEF" in p.read_text(errors="replace")]
    assert citing == []
