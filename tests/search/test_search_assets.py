"""The ``embeddings`` and ``labels`` assets materialized by Dagster on real galaxies."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from assets.ingest import curated, raw
from assets.search import embedding
from cosmoalign.lake import Lake
from cosmoalign.models import ModelSpec, build_model, export_open_clip
from cosmoalign.schema import EMBEDDINGS_TABLE
from cosmoalign.search import EmbeddingIndex
from resources import LakeResource, SurveySources
from resources.sources import LocalFolderConfig
from tests.dagster_env import repo_instance

ASSETS = dg.load_assets_from_modules([raw, curated, embedding])
LABELS = ["smooth", "spiral"]


def materialize(instance, lake: Path, folder: Path, selection: list[str]):
    return dg.materialize(
        ASSETS,
        selection=selection,
        partition_key="local",
        instance=instance,
        resources={
            "lake": LakeResource(root=str(lake)),
            "sources": SurveySources(local=LocalFolderConfig(root=str(folder))),
        },
        run_config={"ops": {"labels": {"config": {"labels": LABELS}}}}
        if "labels" in selection
        else None,
    )


def export_model(lake: Path, seed: int) -> Path:
    """A tiny model standing in for a trained cosmoclip_model asset of the partition."""
    bundle = build_model(ModelSpec("tiny"), seed=seed)
    return export_open_clip(bundle, lake / "cosmoclip_model" / "local")


@pytest.mark.slow
def test_embeddings_and_labels_assets_follow_the_model(tmp_path: Path, galaxies: Path) -> None:
    folder = tmp_path / "images"
    for path in [*sorted(galaxies.glob("*/*.jpg"))[:5], *sorted(galaxies.glob("*/*.jpg"))[-5:]]:
        (folder / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / path.parent.name / path.name)
    lake = tmp_path / "lake"
    with repo_instance(tmp_path / "dagster") as instance:
        assert materialize(instance, lake, folder, ["raw_images", "curated_images"]).success
        export_model(lake, seed=0)
        first = materialize(instance, lake, folder, ["embeddings", "labels"])
        assert first.success
        [event] = first.asset_materializations_for_node("embeddings")
        meta = event.metadata
        assert meta["dagster/row_count"].value == 10 and meta["dimension"].value == 32
        assert meta["index"].value == "none (exact scan)"
        store = Lake(str(lake))
        assert meta["path"].value == store.path(EMBEDDINGS_TABLE, "local")
        index = EmbeddingIndex.open(store, "local")
        assert index.metadata["model_identity"] == meta["model_identity"].value

        table = Lake(str(lake)).read("labels", "local")
        assert table.num_rows == 10
        assert set(table["label"].to_pylist()) <= set(LABELS)
        total = table["p_smooth"].to_numpy() + table["p_spiral"].to_numpy()
        np.testing.assert_allclose(total, 1.0, atol=1e-9)
        ids, _ = index.vectors()
        assert sorted(table["object_id"].to_pylist()) == sorted(ids)

        export_model(lake, seed=1)  # the model changes: new vectors, a new data version
        second = materialize(instance, lake, folder, ["embeddings"])
        [again] = second.asset_materializations_for_node("embeddings")
        versions = [e.tags["dagster/data_version"] for e in (event, again)]
        assert versions[0] != versions[1]
        changed = EmbeddingIndex.open(store, "local").metadata["model_identity"]
        assert changed != index.metadata["model_identity"]
