"""Checkpoints: one folder per step, marked complete only after every file is written.

A run killed while saving leaves an unmarked folder, which resume ignores (and the next save
removes), so the newest *complete* checkpoint is always a consistent state. The trainer's own
state (progress, learning-rate schedule, the settings it trains under) is JSON, never pickle;
the completion marker holds the sha256 of every file, and a folder that no longer matches it
(a file changed, added or removed) is refused before anything in it is loaded. Resuming under
settings that change the optimisation is refused with the fields that differ.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from cosmoalign.files import atomic_write, file_sha256
from cosmoalign.train.config import TrainConfig

COMPLETE = "COMPLETE"
TRAINER_STATE = "trainer_state.json"
_PREFIX = "step-"
# Settings that do not change what is optimised: where things are written, how often, how fast.
_BOOKKEEPING = frozenset(
    {
        "lake_root",
        "run_dir",
        "export_to",
        "checkpoint_every",
        "keep_checkpoints",
        "log_every",
        "loader_workers",
        "wise_ft_alpha",  # applied to the export only
    }
)


class CheckpointError(RuntimeError):
    """A checkpoint that must not be resumed from: tampered with, or saved under other settings."""


@dataclass
class Progress:
    """Where the loop stands; saved with every checkpoint as JSON."""

    step: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    samples: int = 0

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, int(value))


def training_settings(config: TrainConfig, processes: int) -> dict:
    """The settings that change the optimisation (every config field but output paths and
    bookkeeping, plus the number of processes, which sets the global batch)."""
    settings = {k: v for k, v in asdict(config).items() if k not in _BOOKKEEPING}
    return {**settings, "processes": processes}


def settings_hash(settings: dict) -> str:
    """sha256 of the settings as canonical JSON."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def checkpoint_path(folder: Path, step: int) -> Path:
    """The folder of the checkpoint taken after ``step`` optimizer steps."""
    return folder / f"{_PREFIX}{step:08d}"


def newest_complete(folder: Path) -> Path | None:
    """The newest checkpoint marked complete, if any."""
    complete = [p for p in _checkpoints(folder) if (p / COMPLETE).exists()]
    return complete[-1] if complete else None


def write_trainer_state(path: Path, progress: Progress, schedule: dict, settings: dict) -> None:
    """Write the loop's progress, the scheduler's state and the settings as JSON."""
    state = {
        "progress": progress.state_dict(),
        "schedule": schedule,
        "settings": settings,
        "settings_sha256": settings_hash(settings),
    }
    atomic_write(path / TRAINER_STATE, json.dumps(state, indent=2, sort_keys=True))


def mark_complete(path: Path) -> None:
    """Mark a checkpoint as fully written, recording the sha256 of each of its files."""
    digests = {file.name: _sha256(file) for file in _files(path)}
    atomic_write(path / COMPLETE, json.dumps({"sha256": digests}, indent=2, sort_keys=True))


def verified_trainer_state(path: Path, settings: dict) -> dict:
    """The trainer state of a complete checkpoint, after checking that every file is the one
    written at save time and that it was saved under ``settings``.

    Raises :class:`CheckpointError` naming the files that differ, or the settings that differ
    (old -> new), before anything in the folder is loaded.
    """
    try:
        recorded = json.loads((path / COMPLETE).read_text())["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{path}: the completion marker holds no file digests (written by an older version "
            "or altered); refusing to load it. Start from a new run_dir or delete the folder"
        ) from exc
    actual = {file.name: _sha256(file) for file in _files(path)}
    changed = sorted(
        name for name in recorded.keys() & actual.keys() if recorded[name] != actual[name]
    )
    added = sorted(actual.keys() - recorded.keys())
    missing = sorted(recorded.keys() - actual.keys())
    if changed or added or missing:
        raise CheckpointError(
            f"{path} is not the checkpoint that was saved (changed: {changed}, added: {added}, "
            f"missing: {missing}); refusing to load it"
        )
    state = json.loads((path / TRAINER_STATE).read_text())
    if state["settings_sha256"] != settings_hash(settings):
        saved = state["settings"]
        differ = [
            f"{name} {saved.get(name)!r} -> {settings.get(name)!r}"
            for name in sorted(saved.keys() | settings.keys())
            if saved.get(name) != settings.get(name)
        ]
        raise CheckpointError(
            f"cannot resume from {path}: it was saved under other training settings "
            f"({', '.join(differ) or 'unknown fields'}); train with the saved settings, or use "
            "a new run_dir"
        )
    return state


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


def _files(path: Path) -> list[Path]:
    """Every entry of a checkpoint folder except its marker (links and folders included, so
    they show up as differences rather than being skipped)."""
    return sorted(p for p in path.iterdir() if p.name != COMPLETE)


def _sha256(path: Path) -> str:
    if path.is_symlink() or not path.is_file():
        return "not a regular file"
    return file_sha256(path)
