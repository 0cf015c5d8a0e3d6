"""Sharded surveys on the repo's instance: 20k rows cut into 8 shards and ingested by a backfill
that the daemon of `dagster dev` runs (two runs at a time, each running its steps in process),
then balanced across the shards; and, at a smaller size, captions and recaptioning per shard and
training pairs across them."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus

from assets.captions import captions, measurements, regions, symbols
from assets.ingest import balanced, curated, raw
from assets.training import pairs
from cosmoalign.lake import Lake
from cosmoalign.schema import BALANCED_TABLE, CAPTIONS_TABLE, CURATED_TABLE, PAIRS_TABLE, RAW_TABLE
from cosmoalign.shards import dataset_partitions, shard_plan
from pipeline.schedules import weekly_recaption_shards
from pipeline.shard_plan import plan_shards
from resources import AccelerateLauncher, LakeResource, SurveySources
from resources.sources import LocalFolderConfig
from tests.dagster_env import REPO_ROOT, dagster_environ, repo_instance
from tests.fixtures.blob_folder import write_blob_folder
from tests.pipeline.webserver_fixture import dagster_dev

ROWS, SHARDS = 20_000, 8
MONDAY = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
ASSETS = dg.load_assets_from_modules(
    [raw, curated, balanced, measurements, captions, regions, symbols, pairs]
)
SUBMITTED = (BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS)


def _backfill(job: str, partitions: list[str], env: dict[str, str]) -> str:
    """`dagster job backfill` as a user types it; returns the backfill id."""
    dagster = Path(sys.executable).with_name("dagster")
    env = {k: v for k, v in env.items() if k != "DAGSTER_MODULE_NAME"}  # -w names the location
    command = [str(dagster), "job", "backfill", "-w", "workspace.yaml", "-j", job, "--noprompt"]
    completed = subprocess.run(
        [*command, "--partitions", ",".join(partitions)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return re.search(r"Launched backfill job `(\w+)`", completed.stdout).group(1)


def _wait(instance: dg.DagsterInstance, backfill_id: str, count: int, log: Path):
    """The backfill's runs once the daemon has submitted and finished all ``count`` of them."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        backfill = instance.get_backfill(backfill_id)
        assert backfill.status in (*SUBMITTED, BulkActionStatus.REQUESTED), backfill.error
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        if len(runs) == count and all(run.is_finished for run in runs):
            return runs
        time.sleep(2)
    raise TimeoutError(f"backfill {backfill_id} still running:\n{log.read_text()[-3000:]}")


def _resources(lake: Path, folder: Path) -> dict:
    return {
        "lake": LakeResource(root=str(lake)),
        "sources": SurveySources(local=LocalFolderConfig(root=str(folder))),
        "launcher": AccelerateLauncher(),
    }


def _plan(instance, lake: Path, folder: Path) -> list[str]:
    plan = plan_shards.execute_in_process(
        run_config={"ops": {"cut_into_shards": {"config": {"dataset": "local", "level": SHARDS}}}},
        instance=instance,
        resources=_resources(lake, folder),
    )
    keys = plan.output_for_node("cut_into_shards")
    assert keys == [f"ids{SHARDS}-{i}" for i in range(SHARDS)]
    assert instance.get_dynamic_partitions("shards") == keys
    return keys


def _materialize(instance, lake: Path, folder: Path, selection: list, partition: str):
    return dg.materialize(
        ASSETS,
        selection=selection,
        partition_key=partition,
        instance=instance,
        resources=_resources(lake, folder),
        run_config={"ops": {"shards__captions": {"config": {"launch": "in_process"}}}}
        if dg.AssetKey(["shards", "captions"]) in selection
        else None,
    )


@pytest.mark.slow
def test_a_backfill_of_8_shards_of_20k_rows_runs_in_parallel_and_balancing_reads_them_all(
    tmp_path, monkeypatch
):
    folder = write_blob_folder(tmp_path / "survey", ROWS)
    monkeypatch.setenv("COSMOALIGN_LOCAL_DIR", str(folder))
    monkeypatch.setenv("COSMOALIGN_WORKERS", "1")  # two shard runs at once share the two cores
    state, lake_root = tmp_path / "dagster", tmp_path / "lake"
    env = dagster_environ(state, lake_root)
    with repo_instance(state) as instance:
        keys = _plan(instance, lake_root, folder)
        partitions = [f"local|{key}" for key in keys]
        with dagster_dev(state, lake_root):
            runs = _wait(
                instance, _backfill("ingest_shards", partitions, env), SHARDS, state / "dev.log"
            )
        assert {run.tags["dagster/partition"] for run in runs} == set(partitions)
        assert {(run.job_name, run.status) for run in runs} == {
            ("ingest_shards", dg.DagsterRunStatus.SUCCESS)
        }
        records = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id for run in runs]))
        spans = sorted((r.start_time, r.end_time) for r in records)
        assert any(later[0] < earlier[1] for earlier, later in pairwise(spans)), "one at a time"

        lake = Lake(str(lake_root))
        assert shard_plan(lake, "local") == keys
        shard_rows = [lake.count_rows(RAW_TABLE, p) for p in dataset_partitions(lake, "local")]
        assert sum(shard_rows) == ROWS and min(shard_rows) > ROWS / SHARDS / 2
        assert _materialize(
            instance, lake_root, folder, [dg.AssetKey("balanced_images")], "local"
        ).success
    balanced = [lake.count_rows(BALANCED_TABLE, p) for p in dataset_partitions(lake, "local")]
    curated_train = sum(
        lake.read(CURATED_TABLE, p, ["split"]).column(0).to_pylist().count("train")
        for p in dataset_partitions(lake, "local")
    )
    assert sum(balanced) == curated_train and all(balanced)  # two equal classes: kept whole


@pytest.mark.slow
def test_each_shard_is_captioned_and_recaptioned_alone_and_pairs_join_every_shard(tmp_path):
    folder = write_blob_folder(tmp_path / "survey", 400)
    lake_root = tmp_path / "lake"
    with repo_instance(tmp_path / "dagster") as instance:
        keys = _plan(instance, lake_root, folder)
        partitions = [f"local|{key}" for key in keys]
        per_row = [dg.AssetKey(["shards", name]) for name in ("raw_images", "curated_images")]
        captioning = [
            dg.AssetKey(["shards", name]) for name in ("measurements", "captions", "regions")
        ]
        for partition in partitions:
            assert _materialize(instance, lake_root, folder, per_row, partition).success
        assert _materialize(
            instance, lake_root, folder, [dg.AssetKey("balanced_images")], "local"
        ).success
        for partition in partitions:
            assert _materialize(instance, lake_root, folder, captioning, partition).success

        # closed after: the instance it opens would stay Dagster's current one once gone
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=MONDAY
        ) as context:
            requests = weekly_recaption_shards(context)
        assert sorted(r.partition_key for r in requests) == sorted(partitions)
        again = _materialize(instance, lake_root, folder, captioning, partitions[3])
        [measured] = [
            e.materialization.metadata
            for e in again.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey(["shards", "measurements"])
        ]
        assert measured["measured"].value == 0 and measured["reused"].value > 0
        assert _materialize(
            instance,
            lake_root,
            folder,
            [dg.AssetKey("symbols"), dg.AssetKey("training_pairs")],
            "local",
        )
    lake = Lake(str(lake_root))
    captioned = [lake.count_rows(CAPTIONS_TABLE, p) for p in dataset_partitions(lake, "local")]
    paired = lake.read(PAIRS_TABLE, "local", ["object_id", "split"])
    assert all(captioned) and paired.num_rows == sum(captioned)
    ids = paired.column("object_id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert set(paired.column("split").to_pylist()) == {"train", "val", "test"}
