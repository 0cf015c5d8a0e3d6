"""Sky augmentations: shape and dtype kept, exact where they should be, seeded, and the
generative augmenter chosen only when it can run."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from cosmoalign.augment import (
    DiffusersImg2ImgAugmenter,
    SkyAugmenter,
    add_noise,
    affine,
    colour_jitter,
    flip,
    generative_unavailable_reason,
    psf_blur,
    rotate,
    select_augmenter,
)


@pytest.fixture
def galaxy() -> np.ndarray:
    """A 64x48 elliptical Gaussian galaxy with a red core on a faint sky."""
    y, x = np.mgrid[0:64, 0:48].astype(np.float32)
    r2 = ((y - 30) / 8) ** 2 + ((x - 25) / 5) ** 2
    core = np.exp(-r2 / 2)
    image = np.stack([200 * core, 160 * core, 120 * core], axis=-1) + 5
    return np.rint(image).astype(np.uint8)


OPS = {
    "flip": lambda im, rng: flip(im, horizontal=True, vertical=True),
    "rotate": lambda im, rng: rotate(im, 37.0),
    "affine": lambda im, rng: affine(im, angle_deg=-20, zoom=1.08, shift=(2.5, -1.5)),
    "psf_blur": lambda im, rng: psf_blur(im, 1.2),
    "add_noise": lambda im, rng: add_noise(im, 3.0, rng),
    "colour_jitter": lambda im, rng: colour_jitter(im, np.array([0.95, 1.0, 1.05])),
    "sky": lambda im, rng: SkyAugmenter().augment(im, rng),
}


@pytest.mark.parametrize("name", OPS)
def test_each_op_keeps_shape_and_dtype_and_is_seeded(galaxy: np.ndarray, name: str) -> None:
    first = OPS[name](galaxy, np.random.default_rng(7))
    again = OPS[name](galaxy, np.random.default_rng(7))
    assert first.shape == galaxy.shape
    assert first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)


def test_flips_and_quarter_turns_are_exact(galaxy: np.ndarray) -> None:
    np.testing.assert_array_equal(flip(galaxy, horizontal=True), galaxy[:, ::-1])
    np.testing.assert_array_equal(flip(galaxy, vertical=True), galaxy[::-1])
    np.testing.assert_array_equal(flip(galaxy), galaxy)
    for k in range(-2, 5):
        np.testing.assert_array_equal(rotate(galaxy, 90.0 * k), np.rot90(galaxy, k))


def test_affine_rotation_matches_rot90_convention() -> None:
    square = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(affine(square, angle_deg=90), np.rot90(square))


def test_arbitrary_rotation_keeps_flux_and_fills_corners(galaxy: np.ndarray) -> None:
    rotated = rotate(galaxy, 33.0)
    flux, rotated_flux = galaxy.astype(float).sum(), rotated.astype(float).sum()
    assert abs(rotated_flux - flux) / flux < 0.03
    assert rotated[0, 0].min() > 0  # reflected sky, not black corners


def test_blur_and_jitter_keep_flux_roughly(galaxy: np.ndarray) -> None:
    flux = galaxy.astype(float).sum()
    assert abs(psf_blur(galaxy, 1.0).astype(float).sum() - flux) / flux < 0.01
    jittered = colour_jitter(galaxy, np.array([1.05, 1.0, 0.95])).astype(float)
    assert jittered[..., 0].sum() > galaxy[..., 0].sum() > 0
    assert jittered[..., 2].sum() < galaxy[..., 2].sum()


def test_sky_augmenter_differs_by_seed_and_stays_close(galaxy: np.ndarray) -> None:
    augmenter = SkyAugmenter()
    one = augmenter.augment(galaxy, np.random.default_rng(1))
    two = augmenter.augment(galaxy, np.random.default_rng(2))
    assert not np.array_equal(one, two)
    for out in (one, two):
        assert abs(out.astype(float).mean() - galaxy.mean()) < 0.2 * galaxy.mean()


def test_select_falls_back_when_the_weights_are_missing(tmp_path: Path) -> None:
    assert isinstance(select_augmenter(None), SkyAugmenter)
    assert isinstance(select_augmenter(str(tmp_path / "absent")), SkyAugmenter)
    assert "model_index.json" in generative_unavailable_reason(str(tmp_path / "absent"))


def test_select_falls_back_without_diffusers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "model_index.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "diffusers", None)  # makes `import diffusers` fail
    assert isinstance(select_augmenter(str(tmp_path)), SkyAugmenter)
    assert "diffusers" in generative_unavailable_reason(str(tmp_path))


def test_select_picks_the_generative_augmenter_when_it_can_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "model_index.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "diffusers", types.ModuleType("diffusers"))
    chosen = select_augmenter(str(tmp_path))
    assert isinstance(chosen, DiffusersImg2ImgAugmenter)
    assert chosen.model_path == tmp_path  # nothing loaded until the first augment()
