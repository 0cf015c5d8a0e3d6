"""Galaxy types from measurements: procedural truth, real Galaxy Zoo labels, label words."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from cosmoalign.captions.base import compose_caption
from cosmoalign.captions.galaxy_type import (
    EDGE_ON,
    ELLIPTICAL,
    MERGING,
    SPIRAL,
    UNCERTAIN,
    classify,
)
from cosmoalign.captions.measure import measure_segmentation
from cosmoalign.captions.vocabulary import label_words
from cosmoalign.framing import framed_segmentation
from tests.captions.test_measure import render
from tests.shared_data import GZ_SPIRALS, require


def _type(image: np.ndarray):
    _, seg = framed_segmentation(image)
    return classify(seg, measure_segmentation(seg))


@pytest.mark.parametrize("class_id", [8, 9])
def test_edge_on_renders_are_edge_on_disks(class_id: int) -> None:
    kinds = [_type(render(class_id, seed, n_stars=0)[1]).kind for seed in range(5)]
    assert kinds.count(EDGE_ON) >= 4, kinds


def test_round_smooth_renders_are_never_spirals_or_discs() -> None:
    # The spiral model is calibrated on SDSS colours, so renders in the Legacy Survey colours
    # may stay untyped; they must not get a wrong type.
    kinds = [_type(render(2, seed, n_stars=0, ellip=0.05)[1]).kind for seed in range(5)]
    assert set(kinds) <= {ELLIPTICAL, UNCERTAIN}, kinds


def test_mergers_are_called_merging_more_than_single_galaxies() -> None:
    mergers = [_type(render(1, seed, n_stars=0)[1]).kind for seed in range(8)]
    singles = [_type(render(2, seed, n_stars=0)[1]).kind for seed in range(8)]
    assert mergers.count(MERGING) >= 3 and singles.count(MERGING) == 0


def test_spiral_probability_separates_real_galaxy_zoo_spirals() -> None:
    folder = require(GZ_SPIRALS / "validation")
    scores, truth = [], []
    for cls, label in (("spirals", 1), ("non_spirals", 0)):
        for path in sorted((folder / cls).glob("*.jpg"))[:25]:
            image = np.asarray(Image.open(path).convert("RGB"))
            scores.append(_type(image).spiral_probability)
            truth.append(label)
    assert roc_auc_score(truth, scores) > 0.75


def test_label_words_read_as_astronomers_write() -> None:
    assert label_words("round smooth").kind == ELLIPTICAL
    assert label_words("unbarred loose spiral").kind == SPIRAL
    assert label_words("non_spirals").excludes == (SPIRAL,)
    assert label_words("ring_galaxies").phrase == "ring galaxies"
    assert label_words("ring").phrase == "ring galaxy"
    assert (
        compose_caption("non_spirals", "red.") == "an image of a galaxy without spiral arms. red."
    )
    assert compose_caption("edge-on with bulge", "") == (
        "an image of an edge-on disk galaxy with a central bulge."
    )
