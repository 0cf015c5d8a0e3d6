"""The literal README command: `dagster job execute -j finetune` at the repo root, no flags."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tests.dagster_env import REPO_ROOT, dagster_environ, repo_instance


@pytest.mark.slow
def test_finetune_runs_on_the_embedded_default_into_the_repo_instance(tmp_path):
    state, lake = tmp_path / "dagster", tmp_path / "lake"
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "job", "execute", "-j", "finetune"],
        cwd=REPO_ROOT,
        env=dagster_environ(state, lake),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    with repo_instance(state) as instance:
        [record] = instance.get_run_records()
        run = record.dagster_run
        assert (run.job_name, run.status) == ("finetune", dg.DagsterRunStatus.SUCCESS)
        assert run.tags["dagster/partition"] == "embedded"
        for asset in (
            "raw_images",
            "curated_images",
            "balanced_images",
            "captions",
            "regions",
            "symbols",
        ):
            event = instance.get_latest_materialization_event(dg.AssetKey(asset))
            assert event.run_id == run.run_id
            assert event.asset_materialization.partition == "embedded"
        balanced = instance.get_latest_materialization_event(dg.AssetKey("balanced_images"))
        metadata = balanced.asset_materialization.metadata
        assert metadata["augmented"].value > 0 and metadata["dropped"].value > 0
    assert (lake / "balanced_images" / "embedded" / "part-00000.parquet").exists()
    assert sorted(p.name for p in lake.iterdir() if not p.name.startswith("raw_files")) == [
        "balanced_images",
        "captions",
        "curated_images",
        "previews",
        "quarantine",
        "raw_images",
        "regions",
        "symbols",
    ]
