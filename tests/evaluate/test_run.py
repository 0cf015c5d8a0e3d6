"""Embedding with a disk cache, the results dict, the CLI, and a real-data evaluation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cosmoalign.evaluate.__main__ import main, parse_model
from cosmoalign.evaluate.data import EvalSet, from_folder, from_lake
from cosmoalign.evaluate.embed import embed
from cosmoalign.evaluate.run import compare, evaluate_model
from cosmoalign.files import file_sha256
from cosmoalign.models import ClipBundle, ModelSpec, build_model, export_open_clip
from cosmoalign.models.export import CHECKPOINT_FILE
from cosmoalign.models.fingerprint import model_fingerprint
from cosmoalign.report.page import render_report
from tests.fixtures.pairs_lake import build_pairs_lake
from tests.shared_data import GZ_SPIRALS, require

METRICS = {"zero_shot", "retrieval", "similarity", "linear_probe"}


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A pairs lake with 10 classes: 6 train images each, 1 val and 1 test."""
    root = str(tmp_path_factory.mktemp("lake"))
    build_pairs_lake(root, partition="p", per_class=8, size=48)
    return root


@pytest.fixture(scope="module")
def train_set(lake_root: str) -> EvalSet:
    return from_lake(lake_root, "p", split="train")


def tiny(seed: int = 0) -> ClipBundle:
    return build_model(ModelSpec("tiny"), seed=seed)


def test_second_embedding_is_read_from_the_cache(train_set: EvalSet, tmp_path: Path) -> None:
    bundle = tiny()
    first = embed(bundle, train_set, batch_size=16, cache_dir=tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was called despite a cached embedding")

    bundle.model.encode_image = bundle.model.encode_text = refuse
    second = embed(bundle, train_set, cache_dir=tmp_path)

    assert len(list(tmp_path.glob("*.image.npz"))) == len(list(tmp_path.glob("*.text.npz"))) == 1
    np.testing.assert_array_equal(first.image, second.image)
    np.testing.assert_array_equal(first.text, second.text)
    np.testing.assert_array_equal(first.class_text, second.class_text)
    embed(tiny(seed=1), train_set, cache_dir=tmp_path)  # other weights: another entry
    assert len(list(tmp_path.glob("*.image.npz"))) == len(list(tmp_path.glob("*.text.npz"))) == 2


def test_a_model_sharing_the_image_tower_reads_the_image_embeddings_from_the_cache(
    train_set: EvalSet, tmp_path: Path
) -> None:
    import torch

    first = embed(tiny(), train_set, batch_size=16, cache_dir=tmp_path)
    tuned = tiny()  # an export of it with the image side locked: only text weights moved
    with torch.no_grad():
        tuned.model.text_projection.add_(0.5)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the image tower was run despite cached image embeddings")

    tuned.model.encode_image = refuse
    second = embed(tuned, train_set, batch_size=16, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.image, second.image)
    assert not np.allclose(first.class_text, second.class_text)
    assert len(list(tmp_path.glob("*.text.npz"))) == 2


def test_embeddings_are_normalised_with_one_row_per_item(train_set: EvalSet) -> None:
    embeddings = embed(tiny(), train_set, batch_size=16)

    assert embeddings.image.shape == (60, 32) and embeddings.image.dtype == np.float32
    assert embeddings.text.shape == (60, 32)
    assert embeddings.class_text.shape == (10, len(train_set.prompts[0]), 32)
    np.testing.assert_allclose(np.linalg.norm(embeddings.image, axis=1), 1.0, rtol=1e-5)


def test_compare_gives_the_report_its_results_and_extras(train_set: EvalSet) -> None:
    results, extras = compare({"base": tiny(0), "fine-tuned": tiny(1)}, train_set)

    assert results["dataset"] == "p (train)" and len(results["class_names"]) == 10
    assert list(results["models"]) == ["base", "fine-tuned"]
    metrics = results["models"]["fine-tuned"]
    assert set(metrics) == METRICS
    assert np.asarray(metrics["zero_shot"]["confusion"]).shape == (10, 10)
    assert len(metrics["retrieval"]["image_to_text"]["recall_curve"]) == 50
    assert metrics["similarity"]["k"] == 10
    assert metrics["linear_probe"]["folds"] == 5 and metrics["linear_probe"]["samples"] == 60
    assert json.loads(json.dumps(results)) == results
    assert extras["embeddings"].shape == (60, 32)
    assert extras["labels"] is train_set.labels
    assert len(extras["gallery"]) == 4
    assert all(len(neighbours) == 5 for _, _, neighbours in extras["gallery"])
    assert render_report(results, **extras, title="t").startswith("<!DOCTYPE html>")


def test_tiny_test_split_leaves_unmeasurable_metrics_absent(lake_root: str) -> None:
    test_set = from_lake(lake_root, "p")  # one image per class

    metrics = evaluate_model(tiny(), test_set)

    assert metrics["similarity"] is None and metrics["linear_probe"] is None
    assert metrics["retrieval"]["image_to_text"]["r1"] >= 0.0


def test_export_folder_is_a_model_identified_by_its_weights_file(tmp_path: Path) -> None:
    folder = export_open_clip(tiny(), tmp_path / "export")
    spec = ModelSpec(f"local-dir:{folder}")

    assert parse_model(str(folder)) == parse_model(f"local-dir:{folder}") == spec
    assert parse_model("ViT-B-32:openai") == ModelSpec("ViT-B-32", pretrained="openai")
    assert model_fingerprint(build_model(spec)) == file_sha256(folder / CHECKPOINT_FILE)
    with pytest.raises(ValueError, match="not an export"):
        parse_model(f"local-dir:{tmp_path}")


def test_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = main(["--model", "tiny", "--data", str(tmp_path / "missing")])
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1 and "missing" in error
    assert main(["--model", "nonsense-arch", "--data", str(tmp_path)]) == 2


@pytest.mark.slow
def test_cli_prints_the_numbers_it_writes_to_json(lake_root: str, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    command = [sys.executable, "-m", "cosmoalign.evaluate", "--model", "tiny"]
    command += ["--data", f"lake:{lake_root}:p", "--split", "train", "--json", str(out)]
    command += ["--report", str(tmp_path / "report.html"), "--cache-dir", str(tmp_path / "c")]
    run = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)

    header, row = run.stdout.splitlines()
    metrics = json.loads(out.read_text())["models"]["tiny"]
    expected = [
        metrics["zero_shot"]["top1"],
        metrics["zero_shot"]["top5"],
        metrics["zero_shot"]["balanced_accuracy"],
        metrics["retrieval"]["image_to_text"]["r1"],
        metrics["retrieval"]["text_to_image"]["r1"],
        metrics["similarity"]["map_at_k"],
        metrics["linear_probe"]["accuracy_mean"],
    ]
    assert header.split()[0] == "model" and "mAP@10" in header
    assert row.split() == ["tiny", *(f"{value:.3f}" for value in expected)]
    assert (tmp_path / "report.html").stat().st_size > 0


@pytest.mark.slow
def test_tiny_model_on_gz_kaggle_spirals(tmp_path: Path) -> None:
    source = require(GZ_SPIRALS) / "validation"
    for name in ("spirals", "non_spirals"):
        (tmp_path / name).mkdir()
        for image in sorted((source / name).glob("*.jpg"))[:20]:
            shutil.copy(image, tmp_path / name)
    evalset = from_folder(tmp_path, prompts={"non_spirals": "smooth or featureless"})

    results, extras = compare({"tiny": tiny()}, evalset, cache_dir=tmp_path / "cache")

    metrics = results["models"]["tiny"]
    assert evalset.class_names == ["non_spirals", "spirals"] and len(evalset.images) == 40
    assert "smooth or featureless" in evalset.prompts[0][0]
    assert metrics["retrieval"] is None
    assert 0.0 <= metrics["zero_shot"]["top1"] <= 1.0
    assert metrics["linear_probe"]["folds"] == 5 and metrics["similarity"]["k"] == 10
    assert "nan" in render_report(results, **extras, title="spirals")  # retrieval shown as absent
