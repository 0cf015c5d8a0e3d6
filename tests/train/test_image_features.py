"""Stored image features of a frozen image side: the same losses as encoding the pixels, one
computation per epoch shared by every recipe of a dataset, and none when the image side trains."""

from __future__ import annotations

import pytest
import torch

from cosmoalign.models import ModelSpec, build_model
from cosmoalign.pipes_reporter import LogReporter
from cosmoalign.train.config import TrainConfig
from cosmoalign.train.data import Collate
from cosmoalign.train.image_features import image_side_frozen
from cosmoalign.train.loop import _image_features, _lock_towers, _pairs
from cosmoalign.train.recipes import build_objective
from tests.fixtures.pairs_lake import build_pairs_lake


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("lake"))
    build_pairs_lake(root, "p", per_class=4, real=6)  # unlabelled rows have no symbol
    return root


def _setup(lake_root: str, run_dir, recipe: str = "cosmoclip", **overrides):
    config = TrainConfig(
        recipe, lake_root, "p", str(run_dir), arch="tiny", loader_workers=0, **overrides
    )
    bundle = build_model(ModelSpec("tiny"), seed=0)
    _lock_towers(bundle.model, config)
    return config, bundle


def _features(config: TrainConfig, bundle):
    """The run's feature store and epoch computation, over the whole train split."""
    split = _pairs(config, bundle, with_symbol=False)
    return _image_features(config, bundle, bundle.model, LogReporter(), split, subset=False)


def _batch(dataset, bundle, positions, with_regions: bool) -> dict:
    return Collate(bundle.tokenizer, with_regions=with_regions)(dataset.__getitems__(positions))


@pytest.mark.parametrize("recipe", ["cosmoclip", "grain"])
def test_a_batch_of_stored_features_gives_the_loss_of_its_pixels(lake_root, tmp_path, recipe):
    config, bundle = _setup(lake_root, tmp_path, recipe)
    store, compute = _features(config, bundle)
    assert store.ensure(1, compute)
    dataset = _pairs(config, bundle, with_symbol=False)
    dataset.set_epoch(1)
    positions = list(range(0, len(dataset), 3))
    objective = build_objective(recipe, bundle.model).train()
    with torch.no_grad():
        from_pixels = objective(_batch(dataset, bundle, positions, recipe == "grain"))
        dataset.use_image_features(store)
        batch = _batch(dataset, bundle, positions, recipe == "grain")
        assert "images" not in batch and batch["image_features"].shape[0] == len(positions)
        from_features = objective(batch)
    for name, value in from_pixels.items():
        assert float(from_features[name]) == pytest.approx(float(value), rel=1e-4, abs=1e-5), name


def test_recipes_of_one_dataset_compute_each_epoch_once(lake_root, tmp_path):
    shared = {"image_feature_dir": str(tmp_path / "features")}
    config, bundle = _setup(lake_root, tmp_path / "cosmoclip", **shared)
    store, compute = _features(config, bundle)
    assert store.ensure(0, compute) and not store.ensure(0, compute)

    galaxalign, bundle = _setup(lake_root, tmp_path / "galaxalign", "galaxalign", **shared)
    again, compute = _features(galaxalign, bundle)
    assert again.folder == store.folder and not again.ensure(0, compute)
    subset = _pairs(galaxalign, bundle, with_symbol=True)
    everything = _pairs(galaxalign, bundle, with_symbol=False)
    assert 0 < len(subset) < len(everything)
    subset.use_image_features(again)
    batch = _batch(subset, bundle, list(range(len(subset))), with_regions=False)
    assert batch["image_features"].shape[0] == len(subset)

    other_seed, bundle = _setup(lake_root, tmp_path / "seed", seed=1, **shared)
    elsewhere, _ = _features(other_seed, bundle)
    assert elsewhere.folder != store.folder  # other augmentations: other features


def test_an_image_side_that_trains_is_encoded_every_step(lake_root, tmp_path):
    config, bundle = _setup(lake_root, tmp_path, lock_image_projection=False)
    assert not image_side_frozen(bundle.model)
    assert _features(config, bundle) is None
    config, bundle = _setup(lake_root, tmp_path, cache_image_features=False)
    assert image_side_frozen(bundle.model)
    assert _features(config, bundle) is None


def test_a_batch_for_images_alone_carries_no_tokens(lake_root, tmp_path):
    config, bundle = _setup(lake_root, tmp_path, "grain")
    rows = _pairs(config, bundle, with_symbol=False).__getitems__([0, 1])
    batch = Collate(bundle.tokenizer, with_regions=True, with_texts=False)(rows)
    assert {"images", "region_boxes", "region_owner", "labels"} == set(batch)
