"""`dagster job execute -j ingest` SIGKILLed (with its step processes) at random moments: every
partition in the lake stays readable and whole, and a rerun completes.

Each kill waits for the run's first new commit and then a random fraction of a few seconds, so it
lands while later tables are being written however fast or slow the machine is."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cosmoalign.lake import Lake, hash_batches
from tests.dagster_env import REPO_ROOT, dagster_environ

KILLS = 2
AFTER_COMMIT_S = (0.0, 4.0)  # the random moment of a kill, counted from the run's first commit
TABLES = ("raw_images", "curated_images", "balanced_images")


def _ingest(env: dict[str, str]) -> subprocess.Popen:
    dagster = Path(sys.executable).with_name("dagster")
    return subprocess.Popen(
        [str(dagster), "job", "execute", "-j", "ingest"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the kill takes the step processes too
    )


def _commits(root: Path) -> int:
    """Lance manifests in the lake: one more for every committed version of any partition."""
    return sum(1 for _ in root.glob("*/*.lance/_versions/*.manifest"))


def _kill_after_a_commit(process: subprocess.Popen, root: Path, delay_s: float) -> None:
    """SIGKILL the run's process group ``delay_s`` after its first new commit (or when it ends)."""
    before, deadline = _commits(root), time.monotonic() + 600
    while _commits(root) == before and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(delay_s)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _committed(root: Path) -> dict[str, str]:
    """Every committed partition read whole (the manifest's row count), as a digest of its rows.

    The pipeline is deterministic, so a partition left by a killed run must equal the one a
    complete run commits: the old version or the new one, never a part of either."""
    lake, digests = Lake(str(root)), {}
    for folder in sorted(root.glob("*/*.lance")):
        table, partition = folder.parent.name, folder.name.removesuffix(".lance")
        if not lake.exists(table, partition):
            continue  # killed before its first commit: no version, nothing to read
        rows = lake.read(table, partition).combine_chunks()
        assert rows.num_rows == lake.count_rows(table, partition)
        digests[f"{table}/{partition}"] = hash_batches(rows.to_batches(max_chunksize=4096))
    return digests


@pytest.mark.slow
def test_an_ingest_killed_at_random_moments_never_leaves_an_unreadable_partition(tmp_path):
    state, lake = tmp_path / "dagster", tmp_path / "lake"
    env = dagster_environ(state, lake)
    rng = random.Random(11)
    seen: list[dict[str, str]] = []
    for _ in range(KILLS):
        _kill_after_a_commit(_ingest(env), lake, rng.uniform(*AFTER_COMMIT_S))
        seen.append(_committed(lake))
    rerun = _ingest(env)
    _, stderr = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, stderr[-3000:]
    assert any(seen), "no kill came after a commit: the test checked nothing"
    final = _committed(lake)
    assert {f"{table}/embedded" for table in TABLES} <= set(final)
    for state in seen:
        for name, digest in state.items():
            assert digest == final.get(name), f"{name} differs from a complete run's"
