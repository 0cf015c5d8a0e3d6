"""Morphology measurements against procedural galaxies of known shape."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cosmoalign.captions.measure import measure_galaxy
from cosmoalign.imaging import to_rgb8
from cosmoalign.sources.embedded import NANOMAGGIES_PER_SKY_SIGMA
from cosmoalign.sources.procedural import GalaxyParams, render_galaxy, sample_params

SIZE = 128


def render(class_id: int, seed: int, **changes: object) -> tuple[GalaxyParams, np.ndarray]:
    """A procedural galaxy as the pipeline shows it to captioners: grz -> uint8 RGB."""
    rng = np.random.default_rng(seed)
    params = dataclasses.replace(sample_params(class_id, SIZE, rng), **changes)
    image = render_galaxy(params, SIZE, rng) * NANOMAGGIES_PER_SKY_SIGMA
    return params, to_rgb8(image, "grz")


def _angle_error(a: float, b: float) -> float:
    return abs((a - b + np.pi / 2) % np.pi - np.pi / 2)


@pytest.mark.parametrize("class_id", [2, 4])
def test_shape_and_size_match_truth(class_id: int) -> None:
    for seed in range(5):
        params, image = render(class_id, 100 * class_id + seed, n_stars=0)
        m = measure_galaxy(image)
        assert m.detected and m.n_neighbours == 0
        assert abs(m.ellipticity - params.ellip) < 0.1
        # light lost below the noise and outside the cutout biases r_half ~15% low
        assert abs(m.r_half / params.r_eff - 1) < 0.3
        if class_id == 4:
            assert _angle_error(m.position_angle, params.theta) < 0.2


def test_half_light_radius_unbiased_to_20_percent() -> None:
    ratios = [
        measure_galaxy(render(2, seed, n_stars=0)[1]).r_half / render(2, seed)[0].r_eff
        for seed in range(6)
    ]
    assert abs(np.median(ratios) - 1) < 0.2


def test_bigger_galaxy_measures_bigger() -> None:
    _, small = render(2, 7, n_stars=0, r_eff=6.0)
    _, large = render(2, 7, n_stars=0, r_eff=14.0)
    assert measure_galaxy(large).r_half > 1.6 * measure_galaxy(small).r_half


def test_smooth_galaxy_is_red_symmetric_and_concentrated() -> None:
    _, image = render(2, 3, n_stars=0)
    m = measure_galaxy(image)
    assert m.colour > 0.7
    assert m.asymmetry < 0.12
    assert m.concentration > 2.8
    assert m.surface_brightness > 10
    assert 0 < m.area < SIZE * SIZE


def test_merger_is_asymmetric_with_a_neighbour() -> None:
    _, image = render(1, 2, n_stars=0)
    m = measure_galaxy(image)
    assert m.asymmetry > 0.3 or m.n_neighbours >= 1


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((64, 64, 3), np.uint8),
        np.random.default_rng(0).integers(0, 20, (64, 64, 3)).astype(np.uint8),
    ],
    ids=["black", "noise"],
)
def test_empty_images_are_not_detected(image: np.ndarray) -> None:
    m = measure_galaxy(image)
    assert not m.detected
    assert m.image_size == (64, 64)
