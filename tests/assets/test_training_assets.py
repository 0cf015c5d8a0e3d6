"""The whole graph through the model assets: accelerate launch via pipes, GPU-style captioning
out of process, exported models, and models going stale when captions change."""

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from pipeline.definitions import defs
from resources import AccelerateLauncher, LakeResource, SurveySources
from resources.sources import EmbeddedConfig
from tests.dagster_env import repo_instance

RECIPES = ("cosmoclip", "galaxalign", "grain")
RECAPTION = ["captions", "regions", "training_pairs"]  # the recaption job's selection
TINY_TRAINING = {"arch": "tiny", "max_steps": 3, "batch_size": 8, "checkpoint_every": 2}


def _assets():
    return [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]


def _materialize(instance, lake_root: Path, selection=None, captions_config=None):
    ops = {f"{recipe}_model": {"config": TINY_TRAINING} for recipe in RECIPES}
    ops["captions"] = {"config": captions_config or {"launch": "subprocess"}}
    return dg.materialize(
        _assets(),
        selection=selection,
        partition_key="embedded",
        instance=instance,
        resources={
            "lake": LakeResource(root=str(lake_root)),
            "launcher": AccelerateLauncher(),
            "sources": SurveySources(
                embedded=EmbeddedConfig(total=0, min_per_class=6, size=48, include_hst=False)
            ),
        },
        run_config={"ops": {op: value for op, value in ops.items() if _selected(op, selection)}},
    )


def _selected(op: str, selection: list[str] | None) -> bool:
    return selection is None or op in selection


def _user_logs(instance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("graph")
    with repo_instance(root / "dagster") as instance:
        result = _materialize(instance, root / "lake")
        assert result.success
        yield instance, root / "lake", result


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
def test_new_captions_make_the_models_stale(trained):
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
