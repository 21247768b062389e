"""threadwatch: watch run_batt batch runs and say, in time, when they are degrading.

The public API. Submodules load lazily so that ``import threadwatch.guard`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "Consumer",
    "Event",
    "Executor",
    "Grammar",
    "Kind",
    "Level",
    "LevelChange",
    "NothingReadError",
    "Report",
    "Scanner",
    "ScopeHealth",
    "ScopeReport",
    "SourceError",
    "Tail",
    "TailOptions",
    "Tally",
    "ThreadwatchError",
    "Verdict",
    "WindowedHealth",
    "__version__",
    "build_report",
    "judge",
    "load_config",
    "tail_logs",
]

_WHERE = {
    "Config": "threadwatch.config",
    "load_config": "threadwatch.config",
    "ConfigError": "threadwatch.errors",
    "NothingReadError": "threadwatch.errors",
    "SourceError": "threadwatch.errors",
    "ThreadwatchError": "threadwatch.errors",
    "Event": "threadwatch.events",
    "Executor": "threadwatch.events",
    "Kind": "threadwatch.events",
    "Level": "threadwatch.health.levels",
    "Verdict": "threadwatch.health.rules",
    "judge": "threadwatch.health.rules",
    "Tally": "threadwatch.health.metrics",
    "Scanner": "threadwatch.parse.scanner",
    "Grammar": "threadwatch.parse.grammar",
    "Consumer": "threadwatch.health.consumer",
    "LevelChange": "threadwatch.health.window",
    "ScopeHealth": "threadwatch.health.window",
    "WindowedHealth": "threadwatch.health.window",
    "ScopeReport": "threadwatch.health.scope",
    "Tail": "threadwatch.live.loop",
    "TailOptions": "threadwatch.live.loop",
    "tail_logs": "threadwatch.live.service",
    "Report": "threadwatch.report.model",
    "build_report": "threadwatch.report.model",
}

if TYPE_CHECKING:
    from threadwatch.config import Config, load_config
    from threadwatch.errors import ConfigError, NothingReadError, SourceError, ThreadwatchError
    from threadwatch.events import Event, Executor, Kind
    from threadwatch.health.consumer import Consumer
    from threadwatch.health.levels import Level
    from threadwatch.health.metrics import Tally
    from threadwatch.health.rules import Verdict, judge
    from threadwatch.health.scope import ScopeReport
    from threadwatch.health.window import LevelChange, ScopeHealth, WindowedHealth
    from threadwatch.live.loop import Tail, TailOptions
    from threadwatch.live.service import tail_logs
    from threadwatch.parse.grammar import Grammar
    from threadwatch.parse.scanner import Scanner
    from threadwatch.report.model import Report, build_report


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'threadwatch' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
