"""The lake's work folder, kept from growing without bound.

Three things in it grew with every run: training run folders (checkpoints, 200 MB a recipe
for the offline default), one per training config and input version, so every recaptioning left
a set behind; the stored image features of a frozen image side, one set per image tower and
training rows; and the evaluation cache (embeddings, rendered real sets, map projections). A
run folder is removed once a newer run of the same recipe and dataset has finished, and only
when it finished itself (a killed run's folder is what resumes it); feature sets are removed
once unused for a while (another dataset's training may be reading its own set right now); the
cache is trimmed to a size, least recently used files first.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from cosmoalign.files import atomic_write

FINISHED = "finished.json"


def mark_finished(run_dir: Path, summary: Mapping[str, object]) -> None:
    """Record that the training run in ``run_dir`` finished and exported, with ``summary``."""
    atomic_write(run_dir / FINISHED, json.dumps(dict(summary), indent=2, default=str))


def remove_superseded_runs(run_dir: Path) -> list[Path]:
    """Remove the finished runs beside ``run_dir`` (the same recipe and dataset, another config
    or input version); runs that did not finish are kept. Returns the folders removed."""
    removed = []
    for sibling in sorted(run_dir.parent.iterdir()):
        if sibling != run_dir and (sibling / FINISHED).is_file():
            shutil.rmtree(sibling, ignore_errors=True)
            removed.append(sibling)
    return removed


def remove_unused(root: Path, unused_for: timedelta) -> list[Path]:
    """Remove the folders in ``root`` whose modification time (renewed by each use, e.g.
    :meth:`~cosmoalign.train.image_features.ImageFeatureStore.mark_used`) is older than
    ``unused_for``; hidden ones (writes in progress) stay. Returns the folders removed."""
    oldest = time.time() - unused_for.total_seconds()
    removed = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            unused = folder.stat().st_mtime < oldest
        except FileNotFoundError:  # removed by another process meanwhile
            continue
        if unused:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def trim_to_size(folder: Path, max_bytes: int) -> list[Path]:
    """Delete the least recently used files of ``folder`` (by modification time, which a cache
    hit renews) until the rest hold at most ``max_bytes``. Hidden files, which are writes in
    progress, are left alone. Returns the files deleted."""
    files = []
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:  # trimmed by another process meanwhile
            continue
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    deleted = []
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
        deleted.append(path)
    return deleted
