"""The work folder stays bounded: superseded finished training runs go, unfinished ones stay;
feature sets unused for a while go; the evaluation cache is trimmed least recently used first,
a cache hit counting as a use."""

import os
from datetime import timedelta
from pathlib import Path

import numpy as np

from cosmoalign.array_cache import cached_arrays
from cosmoalign.work_folders import (
    mark_finished,
    remove_superseded_runs,
    remove_unused,
    trim_to_size,
)


def _run(root: Path, name: str, finished: bool) -> Path:
    run_dir = root / name
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "model.safetensors").write_bytes(b"weights")
    if finished:
        mark_finished(run_dir, {"export": f"/lake/{name}"})
    return run_dir


def test_a_finished_run_removes_the_finished_runs_it_supersedes_only(tmp_path):
    old = _run(tmp_path, "config_a", finished=True)
    killed = _run(tmp_path, "config_b", finished=False)  # resumable: kept
    current = _run(tmp_path, "config_c", finished=True)
    assert remove_superseded_runs(current) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config_b", "config_c"]
    assert (killed / "checkpoints" / "model.safetensors").exists()
    assert remove_superseded_runs(current) == []


def _file(folder: Path, name: str, size: int, age_s: float) -> Path:
    path = folder / name
    path.write_bytes(b"x" * size)
    when = path.stat().st_mtime - age_s
    os.utime(path, (when, when))
    return path


def test_trimming_deletes_the_least_recently_used_files_down_to_the_size(tmp_path):
    oldest = _file(tmp_path, "a.image.npz", 400, age_s=300)
    older = _file(tmp_path, "b.render.npz", 400, age_s=200)
    newest = _file(tmp_path, "c.map.npz", 400, age_s=100)
    writing = _file(tmp_path, ".d.text.npz.tmp", 400, age_s=1000)  # a write in progress
    assert trim_to_size(tmp_path, 1200) == []
    assert trim_to_size(tmp_path, 500) == [oldest, older]
    assert newest.exists() and writing.exists()
    assert trim_to_size(tmp_path, 0) == [newest]
    assert writing.exists()


def test_a_cache_hit_renews_the_file_so_trimming_keeps_it(tmp_path):
    used = tmp_path / "used.image.npz"
    cached_arrays(used, lambda: {"image": np.ones((4, 8), np.float32)})
    when = used.stat().st_mtime - 500
    os.utime(used, (when, when))
    unused = _file(tmp_path, "unused.image.npz", used.stat().st_size, age_s=100)

    def never() -> dict:
        raise AssertionError("a hit must not compute")

    assert cached_arrays(used, never)["image"].shape == (4, 8)
    assert trim_to_size(tmp_path, used.stat().st_size) == [unused]
    assert used.exists()


def test_feature_sets_unused_for_a_while_are_removed_and_a_use_renews_one(tmp_path):
    from cosmoalign.train.image_features import ImageFeatureStore

    old, renewed, recent = (ImageFeatureStore(tmp_path / name) for name in "abc")
    for store in (old, renewed, recent):
        store.mark_used()
        (store.folder / "epoch-0").mkdir()
    for store in (old, renewed):
        when = store.folder.stat().st_mtime - 3 * 3600
        os.utime(store.folder, (when, when))
    staging = tmp_path / ".d.staging"  # a feature set being written
    staging.mkdir()
    os.utime(staging, (1, 1))
    renewed.mark_used()
    assert remove_unused(tmp_path, timedelta(hours=2)) == [old.folder]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".d.staging", "b", "c"]
