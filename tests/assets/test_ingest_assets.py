"""The data half of the graph materialized for real: Dagster instance, lake, Parquet, FITS."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets.ingest import balanced, curated, raw
from cosmoalign.lake import Lake
from pipeline.jobs import PER_DATASET
from resources import LakeResource, SurveySources
from resources.sources import LocalFolderConfig
from tests.dagster_env import repo_instance
from tests.shared_data import DECALS_FITS, GZ_SPIRALS, require

INGEST_ASSETS = dg.load_assets_from_modules([raw, curated, balanced])


def _local_folder(tmp_path):
    """Real galaxies in two class folders, plus a corrupt JPEG and a truncated FITS."""
    root = tmp_path / "images"
    for label, folder in (("spirals", "spirals"), ("smooth", "non_spirals")):
        (root / label).mkdir(parents=True)
        for path in sorted((require(GZ_SPIRALS) / "train" / folder).glob("*.jpg"))[:12]:
            shutil.copy(path, root / label / path.name)
    jpeg = next((root / "spirals").glob("*.jpg")).read_bytes()
    (root / "spirals" / "corrupt.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    fits_bytes = (require(DECALS_FITS) / "example_b.fits").read_bytes()
    (root / "smooth" / "truncated.fits").write_bytes(fits_bytes[: len(fits_bytes) // 2])
    shutil.copy(DECALS_FITS / "example_b.fits", root / "smooth" / "cutout.fits")
    return root


def _materialize(instance, tmp_path, folder) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        INGEST_ASSETS,
        selection=PER_DATASET,
        partition_key="local",
        instance=instance,
        resources={
            "lake": LakeResource(root=str(tmp_path / "lake")),
            "sources": SurveySources(local=LocalFolderConfig(root=str(folder))),
        },
        run_config={"ops": {"balanced_images": {"config": {"target_per_class": 10}}}},
    )


def _metadata(result, asset: str) -> dict:
    [event] = result.asset_materializations_for_node(asset)
    return event.metadata


@pytest.mark.slow
def test_corrupt_files_are_quarantined_and_the_partition_lands(tmp_path):
    folder = _local_folder(tmp_path)
    with repo_instance(tmp_path / "dagster") as instance:
        result = _materialize(instance, tmp_path, folder)
        assert result.success
        curated_meta = _metadata(result, "curated_images")
        assert curated_meta["quarantined"].value == 2
        assert curated_meta["dagster/row_count"].value == 25  # 24 JPEGs + 1 good FITS

        lake = Lake(str(tmp_path / "lake"))
        reasons = {
            row["object_id"]: row["reason"] for row in lake.read("quarantine", "local").to_pylist()
        }
        assert set(reasons) == {"local-spirals/corrupt", "local-smooth/truncated"}
        assert "truncated" in reasons["local-spirals/corrupt"].lower()

        for asset in ("raw_images", "curated_images", "balanced_images"):
            grid = _metadata(result, asset)["sample_grid_path"].value
            assert Path(grid).read_bytes().startswith(b"\x89PNG"), asset
            assert "data:image/png;base64," in _metadata(result, asset)["sample_grid"].value

        balanced_meta = _metadata(result, "balanced_images")
        assert balanced_meta["dagster/row_count"].value == 20
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks == {"quarantine_rate": True, "class_balance": True, "no_eval_leakage": True}
        assert curated_meta["quarantine_rate"].value == pytest.approx(2 / 27)

        # The run, its partition and its materializations are in the repo-configured instance.
        [record] = instance.get_run_records()
        assert record.dagster_run.tags["dagster/partition"] == "local"
        stored = instance.get_latest_materialization_event(dg.AssetKey("balanced_images"))
        assert stored.asset_materialization.partition == "local"


@pytest.mark.slow
def test_rematerializing_a_partition_gives_the_same_content_hash(tmp_path):
    folder = _local_folder(tmp_path)
    with repo_instance(tmp_path / "dagster") as instance:
        first = _materialize(instance, tmp_path, folder)
        second = _materialize(instance, tmp_path, folder)
    for asset in ("raw_images", "curated_images", "balanced_images"):
        assert (
            _metadata(first, asset)["content_hash"].value
            == _metadata(second, asset)["content_hash"].value
        ), asset
