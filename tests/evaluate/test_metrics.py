"""Evaluation metrics against answers worked out by hand on tiny inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cosmoalign.evaluate import linear_probe, retrieval, similarity_search, zero_shot


def unit(*rows: list[float]) -> np.ndarray:
    return np.array(rows, dtype=np.float32)


def at_angles(*degrees: float) -> np.ndarray:
    radians = np.deg2rad(degrees)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1).astype(np.float32)


def is_json_safe(result: object) -> bool:
    return json.loads(json.dumps(result.to_dict(), allow_nan=False)) == result.to_dict()


def test_zero_shot_ensembles_prompts_and_fills_confusion() -> None:
    class_text = np.array(
        [
            [[0.6, 0.8], [0.6, -0.8]],  # mean (0.6, 0): re-normalised to (1, 0)
            [[0.0, 1.0], [0.0, 1.0]],
            [[-1.0, 0.0], [-1.0, 0.0]],
            [[-0.6, -0.8], [-0.6, -0.8]],  # no image of this class
        ],
        dtype=np.float32,
    )
    images = unit(
        [0.8, 0.6],  # scores .8 .6 -.8 -.96 -> 0; un-normalised class 0 (.48) would lose to 1
        [0.0, 1.0],  # 0 1 0 -.8 -> 1
        [-0.6, 0.8],  # -.6 .8 .6 -.28 -> 1
        [0.6, -0.8],  # .6 -.8 -.6 .28 -> 0; true class 1 ranks 4th of 4
        [1.0, 0.0],  # 1 0 -1 -.6 -> 0
    )
    result = zero_shot(images, class_text, np.array([0, 1, 2, 1, 0]))

    assert result.confusion == [[2, 0, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    assert result.top1 == pytest.approx(3 / 5)
    assert result.top5 == 1.0  # min(5, C) = 4 classes: every label is in the top 4
    assert result.per_class_recall == [1.0, 0.5, 0.0, None]
    assert result.balanced_accuracy == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert is_json_safe(result)


def test_zero_shot_top5_counts_only_five_of_six_classes() -> None:
    class_text = np.eye(6, dtype=np.float32)[:, None, :]  # one template per class
    image = np.array([6, 5, 4, 3, 2, 1], dtype=np.float32)
    images = np.stack([image, image]) / np.linalg.norm(image)
    result = zero_shot(images, class_text, np.array([5, 4]))  # ranked 6th and 5th
    assert result.top1 == 0.0
    assert result.top5 == 0.5


def test_zero_shot_rejects_label_outside_classes() -> None:
    with pytest.raises(ValueError, match="labels must lie in"):
        zero_shot(unit([1.0, 0.0]), np.ones((2, 1, 2), dtype=np.float32), np.array([2]))


def test_retrieval_ranks_median_and_curves() -> None:
    # Texts are one-hot, so image row i is directly its similarity to texts 0..3.
    images = unit(
        [0.8, 0.6, 0.0, 0.0],  # match .8 is best: rank 1
        [0.8, 0.6, 0.0, 0.0],  # match .6 below text 0: rank 2
        [0.6, 0.0, 0.0, 0.8],  # match 0 ties text 1 and trails texts 0, 3: rank 4
        [0.0, 0.0, 0.6, 0.8],  # rank 1
    )
    texts = np.eye(4, dtype=np.float32)
    result = retrieval(images, texts)

    i2t = result.image_to_text  # ranks 1, 2, 4, 1
    assert (i2t.r1, i2t.r5, i2t.r10) == (0.5, 1.0, 1.0)
    assert i2t.median_rank == 1.5
    assert i2t.recall_curve == [0.5, 0.75, 0.75, 1.0]

    # Columns: text 0 ties image 1 (.8), text 1 ties image 0 (.6), text 2 trails all three
    # images at 0 and image 3, text 3 ties image 2 (.8): ranks 2, 2, 4, 2.
    t2i = result.text_to_image
    assert (t2i.r1, t2i.r5, t2i.r10) == (0.0, 1.0, 1.0)
    assert t2i.median_rank == 2.0
    assert t2i.recall_curve == [0.0, 0.75, 0.75, 1.0]
    assert is_json_safe(result)


def test_retrieval_curve_stops_at_50() -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(60, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    result = retrieval(emb, emb)
    assert len(result.image_to_text.recall_curve) == 50
    assert result.text_to_image.r1 == 1.0 and result.text_to_image.median_rank == 1.0


def test_similarity_search_excludes_the_query() -> None:
    # Angles 0, 30, 40, 90 degrees; classes 0, 1, 0, 1; k = 3 = N - 1, one relevant item each.
    # q0: neighbours 1, 2, 3 rel 0 1 0 -> AP = P@2 = 1/2
    # q1: neighbours 2, 0, 3 rel 0 0 1 -> AP = P@3 = 1/3
    # q2: neighbours 1, 0, 3 rel 0 1 0 -> AP = 1/2
    # q3: neighbours 2, 1, 0 rel 0 1 0 -> AP = 1/2
    # Counting each query as its own first hit would instead give every query AP = 1.
    result = similarity_search(at_angles(0, 30, 40, 90), np.array([0, 1, 0, 1]), k=3)
    assert result.map_at_k == pytest.approx((1 / 2 + 1 / 3 + 1 / 2 + 1 / 2) / 4)
    assert result.precision_at_k == pytest.approx(1 / 3)
    assert result.k == 3
    assert is_json_safe(result)


def test_similarity_search_normalises_by_min_k_relevant_and_skips_lone_queries() -> None:
    # Angles 0, 15, 35, 90 degrees; classes 0, 0, 1, 0; k = 2; class 0 has R = 2 per query.
    # q0: neighbours 1, 2 rel 1 0 -> AP = (1 * 1) / 2
    # q1: neighbours 0, 2 rel 1 0 -> AP = 1/2
    # q2: alone in class 1 -> skipped
    # q3: neighbours 2, 1 rel 0 1 -> AP = (1/2 * 1) / 2 = 1/4
    result = similarity_search(at_angles(0, 15, 35, 90), np.array([0, 0, 1, 0]), k=2)
    assert result.map_at_k == pytest.approx((1 / 2 + 1 / 2 + 1 / 4) / 3)
    assert result.precision_at_k == pytest.approx(1 / 2)


def test_similarity_search_caps_k_at_other_items() -> None:
    result = similarity_search(at_angles(0, 10, 80), np.array([0, 0, 1]), k=10)
    assert result.k == 2
    assert result.map_at_k == 1.0  # q0 and q1 find each other first; q2 is skipped


def test_linear_probe_separates_separable_classes() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 10)
    centres = np.array([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]])
    features = centres[labels] + rng.normal(scale=0.3, size=(30, 2))
    result = linear_probe(features, labels)
    assert result.accuracy_mean == 1.0
    assert result.accuracy_std == 0.0
    assert result.folds == 5
    assert is_json_safe(result)


def test_linear_probe_on_random_labels_is_near_chance() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(400, 8))
    labels = rng.integers(0, 4, size=400)
    assert abs(linear_probe(features, labels).accuracy_mean - 0.25) < 0.08


def test_linear_probe_lowers_folds_to_smallest_class() -> None:
    features = np.arange(12, dtype=np.float64)[:, None]
    labels = np.array([0] * 9 + [1] * 3)
    assert linear_probe(features, labels).folds == 3


def test_linear_probe_rejects_single_sample_class() -> None:
    with pytest.raises(ValueError, match=r"\[2\] have a single sample"):
        linear_probe(np.zeros((5, 2)), np.array([0, 0, 1, 1, 2]))


def test_a_probe_is_fitted_once_per_set_of_embeddings_and_a_broken_file_is_refitted(
    tmp_path, monkeypatch
) -> None:
    from types import SimpleNamespace

    from cosmoalign.evaluate import run
    from cosmoalign.evaluate.embed import Embeddings

    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], 10)
    image = rng.normal(size=(30, 8)).astype(np.float32) + labels[:, None]
    embeddings = Embeddings(image, None, rng.normal(size=(3, 1, 8)).astype(np.float32))
    evalset = SimpleNamespace(labels=labels)
    fitted = []
    monkeypatch.setattr(
        run, "linear_probe", lambda *args: fitted.append(args) or linear_probe(*args)
    )
    first = run.metrics_of(embeddings, evalset, cache_dir=tmp_path)["linear_probe"]
    again = run.metrics_of(embeddings, evalset, cache_dir=tmp_path)["linear_probe"]
    assert len(fitted) == 1 and again == first and first["samples"] == 30
    [stored] = tmp_path.glob("*.probe.npz")
    stored.write_bytes(b"not a zip")
    assert run.metrics_of(embeddings, evalset, cache_dir=tmp_path)["linear_probe"] == first
    assert len(fitted) == 2
