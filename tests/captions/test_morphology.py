"""The morphology captioner: true, varied, reproducible sentences in astronomers' words."""

from __future__ import annotations

import re

import numpy as np

from cosmoalign.captions.morphology import MorphologyCaptioner
from tests.captions.test_measure import render


def test_type_words_follow_the_measured_shape() -> None:
    captioner = MorphologyCaptioner()
    for seed in range(3):
        round_text = captioner.caption([render(2, seed, ellip=0.03, n_stars=0)[1]])[0]
        thin_text = captioner.caption([render(4, seed, ellip=0.8, n_stars=0)[1]])[0]
        assert "round" in round_text
        assert "edge-on" not in round_text and "spiral" not in round_text
        assert "edge-on disk" in thin_text and "round" not in thin_text


def test_batch_captions_mostly_unique_and_reproducible() -> None:
    images = [render(c, 10 + i)[1] for i in range(2) for c in range(10)]
    first = MorphologyCaptioner(seed=1).caption(images)
    assert len(set(first)) >= 18
    assert first == MorphologyCaptioner(seed=1).caption(images)
    assert MorphologyCaptioner(seed=2).caption(images) != first


def test_worker_processes_give_the_same_captions() -> None:
    images = [render(c, 30)[1] for c in range(4)]
    pooled = MorphologyCaptioner(seed=1, workers=2)
    try:
        assert pooled.caption(images) == MorphologyCaptioner(seed=1).caption(images)
    finally:
        pooled.close()


def test_a_typed_label_replaces_the_measured_type() -> None:
    image = render(8, 4, n_stars=0)[1]
    captioner = MorphologyCaptioner()
    plain = captioner.caption([image])[0]
    labelled = captioner.caption([image], ["barred spiral"])[0]
    assert "edge-on" in plain and "edge-on" not in labelled
    # a label that rules a type out demotes a measured spiral to an untyped description
    spiral = next(
        render(7, seed)[1]
        for seed in range(40)
        if "spiral" in captioner.caption([render(7, seed)[1]])[0]
    )
    assert "spiral" not in captioner.caption([spiral], ["non_spirals"])[0]


def test_empty_image_claims_nothing() -> None:
    text = MorphologyCaptioner().caption([np.zeros((32, 32, 3), np.uint8)])[0]
    assert "galaxy" not in text or "no clear galaxy" in text
    for word in ("round", "elongated", "red", "blue", "concentrated", "elliptical", "spiral"):
        assert not re.search(rf"\b{word}\b", text)


def test_info_is_stable() -> None:
    info = MorphologyCaptioner().info
    assert info.name == "morphology" and info.version == "3.0"
    assert info == MorphologyCaptioner().info and len(info.prompt_hash) == 16
    assert MorphologyCaptioner(seed=5).info.prompt_hash != info.prompt_hash


def test_stored_measurement_rows_phrase_exactly_like_the_images_they_came_from() -> None:
    import pyarrow as pa

    from cosmoalign.captions.measurement import measure_image, pixel_digest
    from cosmoalign.schema import MEASUREMENT_SCHEMA

    captioner = MorphologyCaptioner(seed=4)
    images = [render(c, 7)[1] for c in (2, 5, 8)] + [np.zeros((32, 32, 3), np.uint8)]
    labels = [None, "non_spirals", None, "barred spiral"]
    rows = []
    for index, image in enumerate(images):
        frame, m = measure_image(image)
        rows.append(m.row(f"g{index}", "train", "png digest", pixel_digest(image), frame))
    stored = pa.Table.from_pylist(rows, MEASUREMENT_SCHEMA).to_pylist()
    texts = captioner.caption_measurements(stored, labels)
    assert texts == captioner.caption(images, labels)
    assert (
        "no clear galaxy" in texts[-1]
        or "no significant source" in texts[-1]
        or ("background noise" in texts[-1])
    )
    assert texts != MorphologyCaptioner(seed=5).caption_measurements(stored, labels)
