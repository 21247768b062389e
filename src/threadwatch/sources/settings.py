"""Which files are sources, and how ``tail`` follows them."""

from __future__ import annotations

from pydantic import Field, model_validator

from threadwatch.settings import DAY, HOUR, Settings

# A scope's window counts are summed over its buckets at every evaluation: more than this many
# buckets per window costs time and memory for no visible gain.
MAX_BUCKETS_PER_WINDOW = 1000


class SourcesConfig(Settings):
    include: tuple[str, ...] = (
        "*.log", "*.log.[0-9]*", "*.log-[0-9]*", "*.err", "*.err.[0-9]*", "*.err-[0-9]*",
    )
    exclude: tuple[str, ...] = ()


class TailConfig(Settings):
    """``threadwatch tail`` settings (owned by the tail feature)."""

    window_seconds: float = Field(900.0, gt=0, le=DAY)
    bucket_seconds: float = Field(10.0, ge=0.1)  # and at most window_seconds (below)
    flush_seconds: float = Field(2.0, gt=0, le=HOUR)
    # the loop's timers: too short a period would keep a CPU busy for nothing
    poll_seconds: float = Field(1.0, ge=0.01, le=60)
    refresh_seconds: float = Field(0.5, ge=0.05, le=60)
    sweep_seconds: float = Field(10.0, ge=0.1, le=HOUR)
    release_seconds: float = Field(30.0, ge=0, le=DAY)
    close_idle_seconds: float = Field(60.0, ge=0, le=DAY)
    max_open_files: int = Field(256, ge=1, le=65536)

    @model_validator(mode="after")
    def _bucket_fits_the_window(self) -> TailConfig:
        # a bucket longer than the window expires whole at once: tail would see nothing
        if self.bucket_seconds > self.window_seconds:
            raise ValueError(
                f"bucket_seconds ({self.bucket_seconds:g}) must not exceed "
                f"window_seconds ({self.window_seconds:g})"
            )
        if self.window_seconds / self.bucket_seconds > MAX_BUCKETS_PER_WINDOW:
            raise ValueError(
                f"window_seconds / bucket_seconds ({self.window_seconds:g} / "
                f"{self.bucket_seconds:g}) must be at most {MAX_BUCKETS_PER_WINDOW}: "
                f"make bucket_seconds at least {self.window_seconds / MAX_BUCKETS_PER_WINDOW:g}"
            )
        return self
