"""The procedural renderer: shapes, noise, colours and light that matches its parameters."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from cosmoalign.sources.procedural import (
    NUM_CLASSES,
    GalaxyParams,
    render_galaxy,
    sample_params,
)

SIZE = 128


def _render(
    class_id: int, index: int, seed: int = 0, **overrides: object
) -> tuple[GalaxyParams, np.ndarray]:
    rng = np.random.default_rng([seed, class_id, index])
    params = dataclasses.replace(sample_params(class_id, SIZE, rng), **overrides)
    return params, render_galaxy(params, SIZE, rng)


def _measure(band: np.ndarray) -> tuple[float, float, float]:
    """Ellipticity and position angle from second moments, and half-light semi-major axis."""
    yy, xx = np.mgrid[: band.shape[0], : band.shape[1]]
    mask = gaussian_filter(band, 2.0) > 1.0  # ~7 sky-noise sigmas after smoothing
    w = band[mask]
    cx, cy = (w * xx[mask]).sum() / w.sum(), (w * yy[mask]).sum() / w.sum()
    dx, dy = xx[mask] - cx, yy[mask] - cy
    cov = np.array([[w @ (dx * dx), w @ (dx * dy)], [w @ (dx * dy), w @ (dy * dy)]]) / w.sum()
    eigvals, eigvecs = np.linalg.eigh(cov)
    q = np.sqrt(eigvals[0] / eigvals[1])
    theta = np.arctan2(eigvecs[1, 1], eigvecs[0, 1])
    dx, dy = xx - cx, yy - cy
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = (-dx * np.sin(theta) + dy * np.cos(theta)) / q
    a = np.hypot(u, v).ravel()
    order = np.argsort(a)
    flux = band.ravel()[order]
    inside = a[order] < 0.45 * band.shape[0]
    half = np.searchsorted(np.cumsum(flux), flux[inside].sum() / 2)
    return float(1 - q), float(theta % np.pi), float(a[order][half])


def _angle_diff(a: float, b: float) -> float:
    d = abs(a - b) % np.pi
    return min(d, np.pi - d)


@pytest.mark.parametrize("class_id", range(NUM_CLASSES))
def test_render_shape_dtype_and_finite(class_id: int) -> None:
    params, image = _render(class_id, 0)
    assert params.class_id == class_id
    assert image.shape == (SIZE, SIZE, 3)
    assert image.dtype == np.float32
    assert np.isfinite(image).all()
    centre = image[SIZE // 2 - 8 : SIZE // 2 + 8, SIZE // 2 - 8 : SIZE // 2 + 8, 1]
    assert centre.mean() > 5.0  # a galaxy sits in the middle (the sky noise sigma is ~1)


def test_sample_params_rejects_unknown_class() -> None:
    with pytest.raises(ValueError, match="class_id"):
        sample_params(NUM_CLASSES, SIZE, np.random.default_rng(0))


def test_render_is_deterministic_for_a_generator_state() -> None:
    _, first = _render(5, 3)
    _, again = _render(5, 3)
    _, other = _render(5, 4)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_sky_is_subtracted_and_noise_has_unit_sigma() -> None:
    blank = GalaxyParams(class_id=2, r_eff=5.0, ellip=0.0, theta=0.0, center=(64, 64), amplitude=0)
    image = render_galaxy(blank, SIZE, np.random.default_rng(1))
    assert abs(float(image.mean())) < 0.02
    assert 0.85 < float(image.std()) < 1.15


@pytest.mark.parametrize("class_id", [2, 3, 4])
@pytest.mark.parametrize("index", range(4))
def test_smooth_galaxy_light_matches_its_params(class_id: int, index: int) -> None:
    params, image = _render(class_id, index, seed=7, n_stars=0)
    ellip, theta, r_half = _measure(image[..., 1])
    assert ellip == pytest.approx(params.ellip, abs=max(0.15 * params.ellip, 0.04))
    assert r_half == pytest.approx(params.r_eff, rel=0.15)
    if params.ellip > 0.2:
        assert _angle_diff(theta, params.theta) < 0.1


def test_exponential_second_moment_size_matches_r_eff() -> None:
    # An n=1 profile has an RMS extent along its major axis of sqrt(3) / b_1 = 1.03 r_eff.
    params = GalaxyParams(
        class_id=3, r_eff=10.0, ellip=0.4, theta=1.0, center=(64.3, 63.6), n=1.0, amplitude=20.0
    )
    band = render_galaxy(params, SIZE, np.random.default_rng(2))[..., 1]
    yy, xx = np.mgrid[:SIZE, :SIZE]
    dx, dy = xx - params.center[0], yy - params.center[1]
    u = dx * np.cos(params.theta) + dy * np.sin(params.theta)
    v = -dx * np.sin(params.theta) + dy * np.cos(params.theta)
    aperture = np.hypot(u, v / (1 - params.ellip)) < 5 * params.r_eff
    w = band[aperture]
    sigma_major = np.sqrt((w * u[aperture] ** 2).sum() / w.sum())
    sigma_minor = np.sqrt((w * v[aperture] ** 2).sum() / w.sum())
    assert sigma_major == pytest.approx(1.03 * params.r_eff, rel=0.1)
    assert 1 - sigma_minor / sigma_major == pytest.approx(params.ellip, rel=0.15)


def test_edge_on_discs_are_thin_and_round_smooth_are_round() -> None:
    for index in range(3):
        _, edge_on = _render(8, index, n_stars=0)
        _, round_smooth = _render(2, index, n_stars=0)
        assert _measure(edge_on[..., 1])[0] > 0.6
        assert _measure(round_smooth[..., 1])[0] < 0.2


def test_bulges_are_redder_than_discs() -> None:
    params, image = _render(6, 0, n_stars=0, clumps=0)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    r = np.hypot(xx - params.center[0], yy - params.center[1])
    core = r < params.bulge_r_eff
    disc = (r > params.r_eff) & (r < 1.5 * params.r_eff)

    def z_over_g(region: np.ndarray) -> float:
        return float(image[..., 2][region].sum() / image[..., 0][region].sum())

    assert z_over_g(core) > 1.2 * z_over_g(disc)


def test_mergers_have_two_galaxies_in_frame() -> None:
    for index in range(5):
        params, image = _render(1, index, n_stars=0)
        assert params.companion is not None
        for galaxy in (params, params.companion):
            x, y = (round(c) for c in galaxy.center)
            assert 0 < x < SIZE and 0 < y < SIZE
            assert image[y - 1 : y + 2, x - 1 : x + 2, 1].mean() > 3.0
