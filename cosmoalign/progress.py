"""Progress of long per-row stages: rows done out of a total, rows per second, time left."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Tick:
    """Where a stage stands: ``done`` of ``total`` rows after ``seconds`` of work."""

    done: int
    total: int
    seconds: float

    @property
    def rate(self) -> float:
        """Rows per second so far."""
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        """Time left at the rate so far (None before the first row is done)."""
        return (self.total - self.done) / self.rate if self.rate > 0 else None

    def describe(self, verb: str) -> str:
        """A log line such as ``measured 640/2900 rows (31.5 rows/s, 1m12s left)``."""
        left = self.seconds_left
        eta = "time left unknown" if left is None else f"{format_seconds(left)} left"
        return f"{verb} {self.done}/{self.total} rows ({self.rate:.1f} rows/s, {eta})"


Progress = Callable[[Tick], None]
"""Called after each batch of a stage with its :class:`Tick`."""


class Meter:
    """Times a stage of ``total`` rows and tells ``progress`` (if any) where it stands, at most
    every ``every`` seconds and when the last row is done."""

    def __init__(self, total: int, progress: Progress | None = None, every: float = 5.0) -> None:
        self.total = total
        self.progress = progress
        self.every = every
        self.done = 0
        self._start = self._reported = time.perf_counter()

    def add(self, rows: int) -> Tick:
        """Count ``rows`` more rows done; return (and maybe report) where the stage stands."""
        self.done += rows
        now = time.perf_counter()
        tick = Tick(self.done, self.total, now - self._start)
        due = now - self._reported >= self.every or self.done >= self.total
        if self.progress is not None and rows and due:
            self.progress(tick)
            self._reported = now
        return tick


def format_seconds(seconds: float) -> str:
    """``42s``, ``3m05s`` or ``2h07m``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
