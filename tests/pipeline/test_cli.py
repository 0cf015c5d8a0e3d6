"""The literal README command: `dagster job execute -j finetune` at the repo root, no flags."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tests.dagster_env import REPO_ROOT, dagster_environ, repo_instance

RECIPES = ("cosmoclip", "galaxalign", "grain")
ASSETS = (
    "raw_images",
    "curated_images",
    "balanced_images",
    "measurements",
    "captions",
    "regions",
    "symbols",
    "training_pairs",
    *(f"{recipe}_model" for recipe in RECIPES),
    *(f"{recipe}_evaluation" for recipe in RECIPES),
    "embeddings",
    "labels",
)


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
        for asset in (*ASSETS, "comparison_report"):
            event = instance.get_latest_materialization_event(dg.AssetKey(asset))
            assert event.run_id == run.run_id
            assert event.asset_materialization.partition == "embedded"
        # Each training starts in a fork of its step, which has torch and open_clip imported.
        launches = [
            entry.user_message
            for entry in (
                r.event_log_entry for r in instance.get_records_for_run(run.run_id).records
            )
            if (entry.step_key or "").endswith("_model") and entry.user_message.startswith("launch")
        ]
        assert len(launches) == len(RECIPES)
        assert all(message.startswith("launching (inline, forked)") for message in launches)
        balanced = instance.get_latest_materialization_event(dg.AssetKey("balanced_images"))
        metadata = balanced.asset_materialization.metadata
        assert metadata["augmented"].value > 0 and metadata["dropped"].value > 0
    assert (lake / "balanced_images" / "embedded.lance" / "_versions").is_dir()
    tables = sorted(p.name for p in lake.iterdir())
    assert tables == sorted([*ASSETS, "previews", "quarantine", "raw_files", "reports", "work"])
    assert (lake / "reports" / "comparison_report" / "embedded" / "report.html").exists()
