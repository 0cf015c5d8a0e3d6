"""The whole graph through the model assets: accelerate launch via pipes, GPU-style captioning
out of process, exported models, and models going stale when captions change."""

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from pipeline.definitions import defs
from tests.fixtures.small_graph import RECAPTION, RECIPES, materialize_small_graph


def _materialize(instance, lake_root: Path, selection=None, captions_config=None):
    return materialize_small_graph(instance, lake_root, selection, captions_config)


def _user_logs(instance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


@pytest.mark.slow
def test_each_recipe_trains_through_pipes_and_exports_an_open_clip_model(trained):
    import open_clip
    import torch

    instance, lake, result = trained
    logs = _user_logs(instance, result.run_id)
    for recipe in RECIPES:
        [event] = result.asset_materializations_for_node(f"{recipe}_model")
        metadata = event.metadata
        assert metadata["steps"].value == 3
        assert metadata["loss_curve"].value.startswith("![loss](data:image/png;base64,")
        export = lake / f"{recipe}_model" / "embedded"
        assert Path(metadata["path"].value) == export
        model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{export}")
        image = preprocess.transforms[-1](torch.rand(3, 64, 64))  # normalise only
        assert model.encode_image(image[None]).shape[-1] == 32
        assert any(f"{recipe}: " in line and "3 steps" in line for line in logs), recipe
        finished = json.loads((Path(metadata["run_dir"].value) / "finished.json").read_text())
        assert finished == {"run_id": result.run_id, "export": str(export)}
        assert metadata["superseded_runs_removed"].value == 0  # the first run of the graph
        assert metadata["unused_feature_sets_removed"].value == 0  # its own set is in use
    # Only the main process opened pipes: the step logs arrived once each.
    assert sum("step 3: loss" in line for line in logs) == len(RECIPES)
    assert (lake / "galaxalign_model" / "embedded" / "symbol_encoder.safetensors").exists()


@pytest.mark.slow
def test_captions_ran_out_of_process_with_progress_in_the_run_log(trained):
    instance, _, result = trained
    logs = _user_logs(instance, result.run_id)
    assert any(
        "accelerate.commands.launch" in line and "cosmoalign.captions" in line for line in logs
    )
    assert any(line.startswith("captioned ") and "rows/s" in line for line in logs)
    [event] = result.asset_materializations_for_node("captions")
    assert event.metadata["captioned"].value == event.metadata["dagster/row_count"].value


@pytest.mark.slow
def test_evaluation_numbers_agree_in_json_metadata_report_and_cli(trained, tmp_path):
    import re
    import subprocess
    import sys

    from cosmoalign.report.key_numbers import KEY_COLUMNS, format_value

    _, lake, result = trained
    folder = lake / "reports" / "cosmoclip_evaluation" / "embedded"
    results = json.loads((folder / "results.json").read_text())["in_domain"]
    [event] = result.asset_materializations_for_node("cosmoclip_evaluation")
    markdown = event.metadata["key_numbers"].value
    html = (folder / "report.html").read_text()
    for model, metrics in results["models"].items():
        values = [format_value(column.value(metrics)) for column in KEY_COLUMNS]
        assert f"| {model} | " + " | ".join(values) + " |" in markdown
        for column in KEY_COLUMNS:
            cell = re.search(
                rf"data-model='{model}'.*?data-metric='{re.escape(column.key)}' "
                r"data-value='([^']*)'",
                html,
                re.S,
            )
            assert cell and float(cell.group(1)) == pytest.approx(
                column.value(metrics), nan_ok=True
            )
    assert (
        event.metadata["top1_fine_tuned"].value
        == results["models"]["fine-tuned"]["zero_shot"]["top1"]
    )

    export = lake / "cosmoclip_model" / "embedded"
    out = tmp_path / "cli.json"
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "cosmoalign.evaluate",
            "--model",
            "tiny",
            "--model",
            str(export),
            "--data",
            f"lake:{lake}:embedded",
            "--json",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    by_cli = json.loads(out.read_text())["models"]
    assert by_cli["tiny"] == results["models"]["base"]
    assert by_cli[str(export)] == results["models"]["fine-tuned"]
    assert format_value(results["models"]["fine-tuned"]["zero_shot"]["top1"]) in cli.stdout

    comparison_json = lake / "reports" / "comparison_report" / "embedded" / "results.json"
    comparison = json.loads(comparison_json.read_text())
    assert set(comparison["models"]) == {"base", *RECIPES}
    assert comparison["models"]["cosmoclip"] == results["models"]["fine-tuned"]


@pytest.mark.slow
def test_new_captions_make_the_models_stale(trained):
    """Runs last: it recaptions the shared graph."""
    instance, lake, _ = trained

    def status(asset: str) -> StaleStatus:
        resolver = CachingStaleStatusResolver(
            instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
        )
        return resolver.get_status(dg.AssetKey(asset), "embedded")

    assert {status(f"{r}_model") for r in RECIPES} == {StaleStatus.FRESH}
    unchanged = _materialize(instance, lake, RECAPTION, {"launch": "in_process"})
    assert unchanged.success  # every caption current: same data versions, models stay fresh
    assert {status(f"{r}_model") for r in RECIPES} == {StaleStatus.FRESH}

    recaptioned = _materialize(instance, lake, RECAPTION, {"launch": "in_process", "seed": 7})
    assert recaptioned.success
    [event] = recaptioned.asset_materializations_for_node("captions")
    assert event.metadata["captioned"].value > 0  # a new seed is a new prompt hash
    assert {status(f"{r}_model") for r in RECIPES} == {StaleStatus.STALE}
