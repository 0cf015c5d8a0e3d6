"""Morphology measurements against procedural galaxies of known shape."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cosmoalign.captions.measure import measure_galaxy, measure_segmentation, segment
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


def _real_and_rendered() -> list[np.ndarray]:
    from PIL import Image

    from cosmoalign.framing import WORKING_SIZE, framed, measure_frame
    from tests.shared_data import GZ_SPIRALS, require

    paths = sorted((require(GZ_SPIRALS) / "validation" / "spirals").glob("*.jpg"))[:6]
    real = [np.asarray(Image.open(path).convert("RGB")) for path in paths]
    real = [framed(rgb, measure_frame(rgb), WORKING_SIZE) for rgb in real]
    return real + [render(class_id, 40 + class_id)[1] for class_id in (1, 3, 6, 9)]


def test_clipped_stats_are_astropys_sigma_clipped_stats() -> None:
    from astropy.stats import sigma_clipped_stats

    from cosmoalign.captions.measure import clipped_stats

    rng = np.random.default_rng(1)
    samples = [rng.normal(0, 1, 5000), np.r_[rng.normal(3, 2, 3000), rng.uniform(50, 90, 40)]]
    samples += [segment(image).smooth.ravel() for image in _real_and_rendered()[:3]]
    for values in samples:
        for sigma in (3.0, 5.0):
            assert clipped_stats(values, sigma) == tuple(
                float(v) for v in sigma_clipped_stats(values, sigma=sigma)
            )


def test_deblending_peaks_are_scikit_images_peak_local_max() -> None:
    from scipy import ndimage
    from skimage.feature import peak_local_max

    from cosmoalign.captions.measure import _local_peaks

    for image in _real_and_rendered():
        seg = segment(image)
        broad = ndimage.gaussian_filter(seg.flux, 3.0)
        components, _ = ndimage.label(seg.smooth > 2 * seg.noise)
        expected = peak_local_max(broad, min_distance=2, labels=components).tolist()
        assert _local_peaks(broad, components, 2) == expected


def test_asymmetry_is_the_minimum_over_rotations_about_nine_centres() -> None:
    from cosmoalign.captions.measure import _asymmetry

    for image in _real_and_rendered():
        seg = segment(image)
        m = measure_segmentation(seg)
        main = seg.labels == seg.main.label
        assert _asymmetry(seg.flux, main, m.center) == pytest.approx(
            _asymmetry_one_centre_at_a_time(seg.flux, main, m.center), abs=1e-12
        )


def _asymmetry_one_centre_at_a_time(
    flux: np.ndarray, mask: np.ndarray, center: tuple[float, float]
) -> float:
    """Conselice asymmetry the direct way: rotate the whole image about each centre."""
    from scipy import ndimage

    border = np.ones(flux.shape, bool)
    width = max(2, min(flux.shape) // 8)
    border[width:-width, width:-width] = False
    background = flux[border]
    bg_per_pixel = np.abs(background - background[::-1]).mean()
    best = np.inf
    for ox in (-0.5, 0.0, 0.5):
        for oy in (-0.5, 0.0, 0.5):
            offset = (2 * (center[1] + oy), 2 * (center[0] + ox))
            rotated = ndimage.affine_transform(flux, -np.eye(2), offset=offset, order=1)
            mirrored = ndimage.affine_transform(
                mask.astype(float), -np.eye(2), offset=offset, order=0
            ).astype(bool)
            region = mask | mirrored
            total = np.abs(flux[region]).sum()
            if total > 0:
                residual = np.abs(flux[region] - rotated[region]).sum()
                best = min(best, (residual - bg_per_pixel * region.sum()) / total)
    return float(max(best, 0.0)) if np.isfinite(best) else 0.0
