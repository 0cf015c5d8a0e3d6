"""The lake on object storage: the finetune job with the ``prod`` resources against a local S3
server (moto), every table, report and model export in the bucket, and read back from it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import open_clip
import pyarrow as pa
import pytest
import torch
from safetensors.torch import load_file

from cosmoalign.lake import Lake, storage_options_env
from cosmoalign.models.export import CHECKPOINT_FILE, CONFIG_FILE
from cosmoalign.models.published import current_export, download_export, upload_export
from pipeline.definitions import RESOURCES_PROD, defs
from pipeline.jobs import finetune
from resources import LakeResource, SurveySources
from resources.sources import EmbeddedConfig
from tests.fixtures.s3_server import S3Server, s3_server
from tests.fixtures.small_graph import PARTITION, RECIPES, TINY_TRAINING

LAKE_PREFIX = "lake"
RECIPE = "cosmoclip"
TABLES = (
    "raw_images",
    "curated_images",
    "balanced_images",
    "measurements",
    "captions",
    "regions",
    "symbols",
    "training_pairs",
    f"{RECIPE}_evaluation",
    "embeddings",
    "labels",
)
# The other recipes, and the comparison that needs all three (one factory: one proves the path).
SKIPPED = {
    f"{recipe}_{kind}" for recipe in RECIPES if recipe != RECIPE for kind in ("model", "evaluation")
}
SKIPPED.add("comparison_report")


@pytest.fixture
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


def test_subprocess_opens_the_lake_from_the_environment_it_is_handed(s3, tmp_path):
    lake = LakeResource(root=f"s3://{s3.bucket}/{LAKE_PREFIX}", storage_options=s3.storage_options)
    lake.open().write_table("t", "p", pa.table({"x": [1, 2, 3]}))
    env = lake.subprocess_env()
    assert env["AWS_SECRET_ACCESS_KEY"] == s3.secret_key
    assert env["AWS_ENDPOINT_URL"] == s3.endpoint
    code = "import sys; from cosmoalign.lake import Lake; print(Lake(sys.argv[1]).read('t','p'))"
    command = [sys.executable, "-c", code, lake.url]
    completed = subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "x: [[1,2,3]]" in completed.stdout
    assert s3.secret_key not in " ".join(command)


def test_options_without_an_environment_variable_are_refused():
    with pytest.raises(ValueError, match="proxy_url"):
        storage_options_env({"aws_region": "us-east-1", "proxy_url": "http://proxy"})
    assert LakeResource(root="/tmp/lake", storage_options={"x": "y"}).subprocess_env() == {}


def test_an_export_is_published_by_its_marker_and_read_back_whole(s3, tmp_path):
    lake = Lake(f"s3://{s3.bucket}/{LAKE_PREFIX}", s3.storage_options)
    with pytest.raises(FileNotFoundError, match="no published model export"):
        current_export(lake, "m_model/p")
    with pytest.raises(FileNotFoundError, match=CONFIG_FILE):
        upload_export(lake, tmp_path, "m_model/p")
    urls = []
    for weights in (b"first", b"second"):
        folder = tmp_path / weights.decode()
        (folder / "text_tower").mkdir(parents=True)
        (folder / CONFIG_FILE).write_text("{}")
        (folder / CHECKPOINT_FILE).write_bytes(weights)
        (folder / "text_tower" / "config.json").write_text("{}")
        urls.append(upload_export(lake, folder, "m_model/p"))
        assert current_export(lake, "m_model/p") == urls[-1]
        local = download_export(lake, "m_model/p", tmp_path / "downloads")
        assert (local / CHECKPOINT_FILE).read_bytes() == weights
        assert (local / "text_tower" / "config.json").is_file()
    first = urls[0].removeprefix(f"s3://{s3.bucket}/")
    assert f"{first}/{CHECKPOINT_FILE}" in s3.keys(first)  # the older version is left whole


@pytest.mark.slow
def test_finetune_job_with_prod_resources_on_object_storage(s3, tmp_path, monkeypatch):
    for name, value in s3.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COSMOALIGN_HOME", f"s3://{s3.bucket}/{LAKE_PREFIX}")
    monkeypatch.setenv("COSMOALIGN_GPUS", "1")
    monkeypatch.setenv("COSMOALIGN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COSMOALIGN_WORKERS", "1")  # no process pool for a few dozen images
    small = EmbeddedConfig(total=0, min_per_class=6, size=48, include_hst=False, max_real=0)
    resources = {**RESOURCES_PROD, "sources": SurveySources(embedded=small)}
    job = dg.Definitions(assets=defs.assets, jobs=[finetune], resources=resources).resolve_job_def(
        "finetune"
    )
    ops = {
        f"{RECIPE}_model": {"config": TINY_TRAINING},
        "captions": {"config": {"launch": "subprocess"}},  # a subprocess reads the bucket too
    }
    selection = [key for key in job.asset_layer.executable_asset_keys if key.path[0] not in SKIPPED]
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            partition_key=PARTITION,
            run_config={"ops": ops},
            asset_selection=selection,
        )
    assert result.success

    keys = set(s3.keys(f"{LAKE_PREFIX}/"))
    for table in TABLES:
        manifests = [k for k in keys if k.startswith(f"{LAKE_PREFIX}/{table}/{PARTITION}.lance/")]
        assert any("/_versions/" in k for k in manifests), f"no Lance table {table} in the bucket"
    reports = f"{LAKE_PREFIX}/reports"
    assert f"{reports}/{RECIPE}_evaluation/{PARTITION}/report.html" in keys
    assert any(key.startswith(f"{LAKE_PREFIX}/previews/") for key in keys)
    folder = f"{LAKE_PREFIX}/{RECIPE}_model/{PARTITION}"
    export = f"{folder}/{_get(s3, f'{folder}/CURRENT').decode()}"
    assert {f"{export}/{CONFIG_FILE}", f"{export}/{CHECKPOINT_FILE}"} <= keys
    results = json.loads(_get(s3, f"{reports}/{RECIPE}_evaluation/{PARTITION}/results.json"))
    assert set(results["in_domain"]["models"]) == {"base", "fine-tuned"}
    card = json.loads(_get(s3, f"{export}/model_card.json"))  # the evaluation went back up
    assert card["evaluation"]["in_domain"] == results["in_domain"]

    local = _copy_out(s3, export, tmp_path / "copied")
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{local}")
    weights = load_file(local / CHECKPOINT_FILE)
    assert weights.keys() == model.state_dict().keys()
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert str(tmp_path) not in (local / CONFIG_FILE).read_text()
    assert preprocess is not None


def _get(s3: S3Server, key: str) -> bytes:
    return s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()


def _copy_out(s3: S3Server, prefix: str, into: Path) -> Path:
    """Download every object under ``prefix`` with boto3 (no cosmoalign code)."""
    for key in s3.keys(prefix + "/"):
        path = into / key.removeprefix(prefix + "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_get(s3, key))
    return into
