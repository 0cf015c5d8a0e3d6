"""Augmentations that keep a sky image physically plausible, plus an optional generative one.

The sky has no preferred orientation, so any rotation and both flips are label-preserving; small
shifts and zooms, a slightly wider PSF, a little extra sky noise and a mild per-band gain change
mimic other pointings, seeing, depth and calibration. Every function works on ``(H, W, C)`` arrays
and returns the input's shape and dtype; randomness comes only from the given numpy Generator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy import ndimage

logger = logging.getLogger(__name__)


class Augmenter(Protocol):
    """Makes a new, label-preserving variant of a uint8 RGB ``(H, W, 3)`` image."""

    name: str

    def augment(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return an augmented copy of ``image`` (same shape, uint8), drawing only from ``rng``."""
        ...


def _like(result: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cast ``result`` to ``reference``'s dtype, rounding and clipping for integer images."""
    if np.issubdtype(reference.dtype, np.integer):
        info = np.iinfo(reference.dtype)
        result = np.clip(np.rint(result), info.min, info.max)
    return result.astype(reference.dtype, copy=False)


def flip(image: np.ndarray, horizontal: bool = False, vertical: bool = False) -> np.ndarray:
    """Mirror left-right and/or top-bottom (exact)."""
    axes = tuple(axis for axis, on in ((1, horizontal), (0, vertical)) if on)
    return np.ascontiguousarray(np.flip(image, axis=axes)) if axes else image.copy()


def affine(
    image: np.ndarray,
    angle_deg: float = 0.0,
    zoom: float = 1.0,
    shift: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Rotate counter-clockwise about the centre, magnify by ``zoom`` and shift by ``(dy, dx)``
    pixels in one bilinear resampling; edges are filled by reflection, never black."""
    theta = np.deg2rad(angle_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    matrix = np.array([[cos, sin], [-sin, cos]]) / zoom  # output (y, x) -> input (y, x)
    centre = (np.array(image.shape[:2], dtype=float) - 1) / 2
    offset = centre - matrix @ (centre + np.asarray(shift, dtype=float))
    planes = [
        ndimage.affine_transform(
            image[..., c].astype(np.float32), matrix, offset, order=1, mode="reflect"
        )
        for c in range(image.shape[-1])
    ]
    return _like(np.stack(planes, axis=-1), image)


def rotate(image: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotate counter-clockwise by any angle; multiples of 90 degrees are exact."""
    quarter_turns, remainder = divmod(angle_deg, 90.0)
    if remainder == 0:
        return np.ascontiguousarray(np.rot90(image, int(quarter_turns) % 4))
    return affine(image, angle_deg=angle_deg)


def psf_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Convolve each band with a circular Gaussian PSF of ``sigma`` pixels."""
    if sigma <= 0:
        return image.copy()
    blurred = ndimage.gaussian_filter(image.astype(np.float32), (sigma, sigma, 0), mode="reflect")
    return _like(blurred, image)


def add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian sky noise of ``sigma`` (in pixel units), independent per pixel and band."""
    noise = rng.normal(0.0, sigma, size=image.shape).astype(np.float32)
    return _like(image.astype(np.float32) + noise, image)


def colour_jitter(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Scale each band by its gain (a calibration-like colour change)."""
    return _like(image.astype(np.float32) * np.asarray(gains, dtype=np.float32), image)


@dataclass(frozen=True)
class SkyAugmentConfig:
    """Magnitudes of :class:`SkyAugmenter`'s random draws (each uniform in its range)."""

    max_rotation_deg: float = 180.0
    flip_probability: float = 0.5
    max_shift_fraction: float = 0.05
    zoom_range: tuple[float, float] = (0.9, 1.1)
    max_psf_sigma: float = 1.0
    max_noise_sigma: float = 3.0
    max_gain_change: float = 0.05


@dataclass(frozen=True)
class SkyAugmenter:
    """Flips, rotation + shift + zoom (one resampling), PSF blur, per-band gain, sky noise."""

    config: SkyAugmentConfig = SkyAugmentConfig()
    name: str = "sky"

    def augment(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Apply every augmentation with magnitudes drawn from ``rng``; one rounding at the end."""
        cfg = self.config
        height, width = image.shape[:2]
        pixels = image.astype(np.float32)
        pixels = flip(
            pixels,
            horizontal=bool(rng.random() < cfg.flip_probability),
            vertical=bool(rng.random() < cfg.flip_probability),
        )
        shift = rng.uniform(-1, 1, 2) * cfg.max_shift_fraction * (height, width)
        pixels = affine(
            pixels,
            angle_deg=rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg),
            zoom=rng.uniform(*cfg.zoom_range),
            shift=(float(shift[0]), float(shift[1])),
        )
        pixels = psf_blur(pixels, rng.uniform(0.0, cfg.max_psf_sigma))
        gains = 1.0 + rng.uniform(-1, 1, image.shape[-1]) * cfg.max_gain_change
        pixels = colour_jitter(pixels, gains)
        pixels = add_noise(pixels, rng.uniform(0.0, cfg.max_noise_sigma), rng)
        return _like(pixels, image)


class DiffusersImg2ImgAugmenter:
    """A Stable Diffusion img2img pipeline from a local folder, loaded on first use.

    ``strength`` sets how far a variant may drift from its source (0 = unchanged); keep it low so
    the morphology, and hence the label, survives. Needs ``diffusers`` and ``torch``.
    """

    name = "diffusers-img2img"

    def __init__(
        self,
        model_path: str | Path,
        strength: float = 0.3,
        prompt: str = "a telescope image of a galaxy, sky survey cutout",
        num_inference_steps: int = 30,
    ) -> None:
        self.model_path = Path(model_path)
        self.strength = strength
        self.prompt = prompt
        self.num_inference_steps = num_inference_steps
        self._pipeline: Any = None

    def _load(self) -> Any:
        if self._pipeline is None:
            import torch
            from diffusers import StableDiffusionImg2ImgPipeline

            device = "cuda" if torch.cuda.is_available() else "cpu"
            dtype = torch.float16 if device == "cuda" else torch.float32
            pipeline = StableDiffusionImg2ImgPipeline.from_pretrained(
                str(self.model_path), torch_dtype=dtype, local_files_only=True
            )
            pipeline.set_progress_bar_config(disable=True)
            self._pipeline = pipeline.to(device)
        return self._pipeline

    def augment(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Generate a variant of ``image`` seeded from ``rng``, resized back to its size."""
        import torch
        from PIL import Image

        pipeline = self._load()
        generator = torch.Generator(device=pipeline.device).manual_seed(int(rng.integers(2**63)))
        source = Image.fromarray(np.ascontiguousarray(image[..., :3]))
        result = pipeline(
            prompt=self.prompt,
            image=source,
            strength=self.strength,
            num_inference_steps=self.num_inference_steps,
            generator=generator,
        ).images[0]
        return np.asarray(result.convert("RGB").resize(source.size, Image.Resampling.LANCZOS))


def generative_unavailable_reason(model_path: str | Path | None) -> str | None:
    """Why the generative augmenter cannot run with ``model_path``, or None when it can."""
    if model_path is None:
        return "no generative model path configured"
    if not (Path(model_path) / "model_index.json").is_file():
        return f"no diffusers pipeline (model_index.json) at {model_path}"
    try:
        import diffusers  # noqa: F401
    except ImportError as exc:
        return f"diffusers is not importable: {exc}"
    return None


def select_augmenter(generative_model_path: str | None) -> Augmenter:
    """The generative augmenter when its weights and diffusers are available, else SkyAugmenter.

    The reason for a fallback is logged (and available from :func:`generative_unavailable_reason`).
    """
    reason = generative_unavailable_reason(generative_model_path)
    if reason is None:
        return DiffusersImg2ImgAugmenter(generative_model_path)
    logger.info("using the sky augmenter: %s", reason)
    return SkyAugmenter()
