"""The public surface is explicit and pinned."""

from __future__ import annotations

import threadwatch


def test_all_is_pinned_and_importable() -> None:
    assert threadwatch.__all__ == [
        "Config", "ConfigError", "Consumer", "Event", "Executor", "Grammar", "Kind", "Level",
        "LevelChange", "NothingReadError", "Report", "Scanner", "ScopeHealth", "ScopeReport",
        "SourceError", "Tail", "TailOptions", "Tally", "ThreadwatchError", "Verdict",
        "WindowedHealth", "__version__", "build_report", "judge", "load_config", "tail_logs",
    ]
    for name in threadwatch.__all__:
        assert getattr(threadwatch, name) is not None
