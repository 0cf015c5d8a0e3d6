"""The morphology captioner: true, varied, reproducible sentences."""

from __future__ import annotations

import re

import numpy as np

from cosmoalign.captions.morphology import MorphologyCaptioner
from tests.captions.test_measure import render


def test_round_and_elongated_words() -> None:
    captioner = MorphologyCaptioner()
    for seed in range(3):
        round_text = captioner.caption([render(2, seed, ellip=0.03, n_stars=0)[1]])[0]
        cigar_text = captioner.caption([render(4, seed, ellip=0.65, n_stars=0)[1]])[0]
        assert "round" in round_text and "elongated" not in round_text
        assert "elongated" in cigar_text or "cigar" in cigar_text
        assert "round" not in cigar_text


def test_batch_captions_mostly_unique_and_reproducible() -> None:
    images = [render(c, 10 + i)[1] for i in range(2) for c in range(10)]
    labels = ["spiral" if i % 2 else None for i in range(20)]
    first = MorphologyCaptioner(seed=1).caption(images, labels)
    assert len(set(first)) >= 18
    assert first == MorphologyCaptioner(seed=1).caption(images, labels)
    assert first == MorphologyCaptioner(seed=1).caption(images)  # labels are the caller's to add
    assert MorphologyCaptioner(seed=2).caption(images, labels) != first


def test_empty_image_claims_nothing() -> None:
    text = MorphologyCaptioner().caption([np.zeros((32, 32, 3), np.uint8)])[0]
    assert "galaxy" not in text or "no clear galaxy" in text
    for word in ("round", "elongated", "red", "blue", "concentrated", "isolated"):
        assert not re.search(rf"\b{word}\b", text)


def test_info_is_stable() -> None:
    info = MorphologyCaptioner().info
    assert info.name == "morphology" and info.version == "1.0"
    assert info == MorphologyCaptioner().info and len(info.prompt_hash) == 16
    assert MorphologyCaptioner(seed=5).info.prompt_hash != info.prompt_hash
