"""Galaxy-centred framing: frames follow the galaxy's position and size, crops follow frames."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from cosmoalign.framing import (
    boxes_in_frame,
    full_frame,
    measure_frame,
    pixel_box,
    square_frame,
    wide_frame,
    zoomed_frame,
)
from cosmoalign.imaging import to_rgb8
from cosmoalign.sources.embedded import NANOMAGGIES_PER_SKY_SIGMA
from cosmoalign.sources.procedural import render_galaxy, sample_params
from tests.shared_data import SHARED_DATA, require

FIELD = 384


def _field(r_eff: float, center: tuple[float, float] = (FIELD / 2, FIELD / 2)) -> np.ndarray:
    """A round smooth galaxy of half-light radius ``r_eff`` in a wide noisy sky field."""
    rng = np.random.default_rng(3)
    params = replace(sample_params(2, FIELD, rng), r_eff=r_eff, center=center, n_stars=0)
    return to_rgb8(render_galaxy(params, FIELD, rng) * NANOMAGGIES_PER_SKY_SIGMA, "grz")


def test_frame_is_square_inside_and_centred_on_the_galaxy() -> None:
    x0, y0, x1, y1 = measure_frame(_field(8.0, center=(230.0, 160.0)))
    assert x1 - x0 == y1 - y0 and 0 <= x0 < x1 <= FIELD and 0 <= y0 < y1 <= FIELD
    assert abs((x0 + x1) / 2 - 230) < 8 and abs((y0 + y1) / 2 - 160) < 8
    assert x1 - x0 < 0.6 * FIELD  # a galaxy in a wide field gets a tight frame


def test_bigger_galaxy_gets_a_bigger_frame() -> None:
    side = lambda f: f[2] - f[0]  # noqa: E731
    assert side(measure_frame(_field(16.0))) > 1.5 * side(measure_frame(_field(6.0)))


def test_empty_image_keeps_the_whole_field() -> None:
    assert measure_frame(np.zeros((60, 80, 3), np.uint8)) == full_frame(80, 60) == (10, 0, 70, 60)


def test_square_frame_is_shifted_not_cut_at_the_edge() -> None:
    assert square_frame(100, 100, 5, 50, 20) == (0, 30, 40, 70)
    assert square_frame(100, 50, 50, 25, 80) == (25, 0, 75, 50)  # never larger than the image


def test_zoom_and_boxes_follow_the_crop() -> None:
    frame, wide = [0.25, 0.25, 0.75, 0.75], wide_frame(200, 100)
    assert wide == [0.25, 0.0, 0.75, 1.0]
    assert zoomed_frame(frame, wide, 0.0) == frame and zoomed_frame(frame, wide, 1.0) == wide
    assert boxes_in_frame([[0.25, 0.25, 0.5, 0.5], [0.0, 0.0, 0.1, 0.1]], frame) == [
        [0.0, 0.0, 0.5, 0.5],
        [0.0, 0.0, 0.0, 0.0],
    ]
    assert pixel_box(frame, 200, 100) == (50, 25, 150, 75)


@pytest.mark.parametrize("name", ["000094c7f8e7393e.jpg", "0029962bbee04ccc.jpg"])
def test_real_sdss_cutouts_are_framed_on_their_central_galaxy(name: str) -> None:
    path = require(SHARED_DATA / "sdss-unlabelled" / name)
    image = np.asarray(Image.open(path).convert("RGB"))
    x0, y0, x1, y1 = measure_frame(image)
    assert abs((x0 + x1) / 2 - 211) < 40 and abs((y0 + y1) / 2 - 211) < 40
    assert 0.2 * 423 < x1 - x0 < 0.8 * 423
