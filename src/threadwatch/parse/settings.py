"""What the parser is told: which program files prefix messages, how long a line may be."""

from __future__ import annotations

from pydantic import Field

from threadwatch.parse.patterns import DEFAULT_PROGRAM_FILES
from threadwatch.settings import Settings


class ParseConfig(Settings):
    program_files: tuple[str, ...] = DEFAULT_PROGRAM_FILES
    max_line_bytes: int = Field(1 << 20, ge=1024, le=1 << 30)
