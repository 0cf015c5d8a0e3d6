"""Checkpoints: one folder per step, marked complete only after every file is written.

A run killed while saving leaves an unmarked folder, which resume ignores (and the next save
removes), so the newest *complete* checkpoint is always a consistent state.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

COMPLETE = "COMPLETE"
_PREFIX = "step-"


@dataclass
class Progress:
    """Where the loop stands; saved with every checkpoint through ``register_for_checkpointing``."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    samples: int = 0

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, int(value))


def checkpoint_path(folder: Path, step: int) -> Path:
    """The folder of the checkpoint taken after ``step`` optimizer steps."""
    return folder / f"{_PREFIX}{step:08d}"


def newest_complete(folder: Path) -> Path | None:
    """The newest checkpoint marked complete, if any."""
    complete = [p for p in _checkpoints(folder) if (p / COMPLETE).exists()]
    return complete[-1] if complete else None


def mark_complete(path: Path) -> None:
    """Mark a checkpoint as fully written."""
    (path / COMPLETE).write_text("ok\n")


def prune(folder: Path, keep: int) -> None:
    """Remove incomplete checkpoints and all but the newest ``keep`` complete ones."""
    checkpoints = _checkpoints(folder)
    complete = [p for p in checkpoints if (p / COMPLETE).exists()]
    stale = [p for p in checkpoints if p not in complete] + complete[:-keep]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)


def _checkpoints(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(_PREFIX))
