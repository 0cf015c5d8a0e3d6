"""Fault injection on the lake: writers SIGKILLed at random points of their commits, and two
writers racing on one partition under a reader, on local disk and on an S3 server. Every read
must see one whole generation."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import lance

from cosmoalign.lake import Lake
from tests.fixtures.lake_writer import PARTITION, TABLE, check_whole
from tests.fixtures.s3_server import s3_server

REPO_ROOT = Path(__file__).resolve().parents[2]
KILLS = 24


def _writer(root: Path | str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fixtures.lake_writer", str(root), *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def test_a_writer_killed_anywhere_leaves_the_old_or_the_new_version_whole(tmp_path):
    lake = Lake(str(tmp_path))
    rng = random.Random(11)
    forks = _writer(tmp_path, "fork")
    checked, generations, orphaned = set(), [], 0
    try:
        for _ in range(KILLS):
            forks.stdin.write("go\n")
            forks.stdin.flush()
            pid = int(forks.stdout.readline().split()[1])
            time.sleep(rng.uniform(0.1, 0.5))  # first commit ~0.2 s, then one per 10-30 ms
            os.kill(pid, signal.SIGKILL)
            committed = []
            while (line := forks.stdout.readline().strip()) != "reaped":
                committed.append(int(line.split()[1]))
            if not lake.exists(TABLE, PARTITION):
                assert not committed
                continue
            _, generation = check_whole(lake.read(TABLE, PARTITION))
            assert generation >= max(committed, default=-1)  # nothing committed was lost
            generations.append(generation)
            for version in set(lake.versions(TABLE, PARTITION)) - checked:
                check_whole(lake.read(TABLE, PARTITION, version=version))
                checked.add(version)
            dataset = lake.dataset(TABLE, PARTITION)
            referenced = {f.path for v in checked for f in _files(dataset, v)}
            orphaned = len(set(os.listdir(Path(dataset.uri) / "data")) - referenced)
    finally:
        forks.stdin.close()
        forks.wait()
    assert len(set(generations)) > KILLS // 3, generations  # the writers made progress
    assert orphaned > 0  # some kill landed between writing data files and committing them


def _files(dataset: lance.LanceDataset, version: int):
    for fragment in dataset.checkout_version(version).get_fragments():
        yield from fragment.data_files()


def _race(lake: Lake, root: str, commits: int, env: dict[str, str] | None = None) -> None:
    """Two writers commit ``commits`` generations each to one partition under a reader."""
    writers = [_writer(root, str(w), str(commits), env=env) for w in (1, 2)]
    reads, failures, stop = [], [], threading.Event()

    def read_forever() -> None:
        while not stop.is_set():
            try:
                if lake.exists(TABLE, PARTITION):
                    reads.append(check_whole(lake.read(TABLE, PARTITION)))
            except Exception as error:  # any failed read is counted and shown
                failures.append(repr(error))

    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        outputs = [w.communicate(timeout=300)[0] for w in writers]
    finally:
        stop.set()
        reader.join()
    assert [w.returncode for w in writers] == [0, 0]
    assert [o.count("committed") for o in outputs] == [commits, commits]
    assert failures == []
    assert len(reads) > commits and {w for w, _ in reads} == {1, 2}  # both writers were seen
    assert len(lake.versions(TABLE, PARTITION)) == 2 * commits  # every commit landed, in order
    assert check_whole(lake.read(TABLE, PARTITION))[1] == commits - 1


def test_two_writers_fifty_commits_each_and_a_reader_never_fails(tmp_path):
    _race(Lake(str(tmp_path)), str(tmp_path), 50)


def test_two_writers_on_an_s3_server_commit_in_order_and_a_reader_never_fails():
    with s3_server() as server:
        root = f"s3://{server.bucket}/lake"
        _race(Lake(root, server.storage_options), root, 20, env={**os.environ, **server.environ})
