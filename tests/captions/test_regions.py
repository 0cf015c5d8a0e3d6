"""Rule-based regions: boxes inside the image, companions and stars where rendered."""

from __future__ import annotations

import numpy as np

from cosmoalign.captions.base import Region
from cosmoalign.captions.measure import measure_segmentation, segment
from cosmoalign.captions.regions import describe_regions
from tests.captions.test_measure import SIZE, render


def _regions(image: np.ndarray) -> list[Region]:
    seg = segment(image)
    return describe_regions(seg, measure_segmentation(seg))


def _texts(image: np.ndarray) -> list[str]:
    return [r.text for r in _regions(image)]


def test_boxes_and_scores_are_valid() -> None:
    for class_id in range(10):
        regions = _regions(render(class_id, 30 + class_id)[1])
        assert regions and regions[0].text == "the whole galaxy"
        for region in regions:
            x0, y0, x1, y1 = region.box
            assert 0 <= x0 < x1 <= SIZE and 0 <= y0 < y1 <= SIZE
            assert 0.0 <= region.score <= 1.0


def test_merger_has_a_companion() -> None:
    found = ["a companion galaxy" in _texts(render(1, seed, n_stars=0)[1]) for seed in range(6)]
    assert sum(found) >= 5


def test_stars_found_only_when_rendered() -> None:
    with_stars = ["a foreground star" in _texts(render(3, seed, n_stars=3)[1]) for seed in range(6)]
    without = ["a foreground star" in _texts(render(3, seed, n_stars=0)[1]) for seed in range(6)]
    assert sum(with_stars) >= 5
    assert not any(without)


def test_smooth_galaxy_has_no_arms_or_bar_but_spiral_has_arms() -> None:
    smooth = _texts(render(2, 4, n_stars=0)[1])
    assert "spiral arms" not in smooth and "an elongated central bar" not in smooth
    assert "spiral arms" in _texts(render(5, 4, n_stars=0)[1])


def test_empty_image_has_no_regions() -> None:
    assert _regions(np.zeros((48, 48, 3), np.uint8)) == []


def test_real_hst_cutouts_get_well_formed_regions() -> None:
    """Real, irregular sources once crashed the core box (the peak fell outside the mask)."""
    import warnings

    from cosmoalign.sources.hst import hst_cutouts

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for cutout in hst_cutouts(size=128, max_items=120):
            for region in _regions(cutout.image):
                x0, y0, x1, y1 = region.box
                assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128, cutout.object_id
                assert 0.0 <= region.score <= 1.0
