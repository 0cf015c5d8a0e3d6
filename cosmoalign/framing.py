"""Galaxy-centred framing: a square crop around the central galaxy, sized from its measured extent.

Survey cutouts differ in how much sky surrounds the galaxy (an SDSS cutout has it in its central
third; a procedural render fills the frame). Curation measures every image once and records the
frame per row; captions, regions, training and evaluation all look at the same crop, so a model
sees galaxies at a consistent scale whatever survey they come from.

The frame is measured on a copy shrunk to :data:`FRAME_SIZE` pixels: the light of the connected
source at (or nearest) the centre, above three background sigmas, gives its centre, half-light
radius and isophotal size in a few milliseconds, robust to JPEG noise. Frames are returned in
the original pixels as ``(x0, y0, x1, y1)``, x1/y1 exclusive, square and inside the image.
Captions are measured on the framed view at :data:`WORKING_SIZE`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

from cosmoalign.captions.measure import Segmentation, linearize, segment

FRAME_SIZE = 64
"""Longest side (pixels) of the copy the frame is measured on."""
WORKING_SIZE = 128
"""Side (pixels) of the framed view that captions and regions measure."""
_DETECT_SIGMA = 3.0
HALF_LIGHT_SCALE = 4.5
"""Half side of the frame in half-light radii ..."""
ISOPHOTE_SCALE = 1.5
"""... or in isophotal semi-major axes, whichever is larger (edge-on discs, extended haloes)."""
MIN_FRACTION = 0.25
"""A frame covers at least this fraction of the image's shorter side (never a few pixels)."""

Frame = tuple[int, int, int, int]


def full_frame(width: int, height: int) -> Frame:
    """The largest centred square of an image: the frame when no galaxy is found."""
    side = min(width, height)
    x0, y0 = (width - side) // 2, (height - side) // 2
    return (x0, y0, x0 + side, y0 + side)


def measure_frame(rgb: np.ndarray) -> Frame:
    """The galaxy-centred square frame of a uint8 RGB image, in its own pixels."""
    height, width = rgb.shape[:2]
    scale = min(1.0, FRAME_SIZE / max(width, height))
    flux = linearize(shrink(rgb, scale)).sum(axis=-1)
    border = _border(flux.shape)
    smooth = ndimage.gaussian_filter(flux - np.median(flux[border]), 1.0)
    sky = smooth[border]
    # JPEG skies are often clipped to black (zero MAD): fall back on the spread, then the peak
    noise = max(1.4826 * np.median(np.abs(sky - np.median(sky))), sky.std(), 1e-3 * smooth.max())
    components, count = ndimage.label(smooth > _DETECT_SIGMA * max(noise, 1e-12))
    if count == 0:
        return full_frame(width, height)
    y, x = np.nonzero(components)
    centre = ((flux.shape[1] - 1) / 2, (flux.shape[0] - 1) / 2)
    nearest = np.argmin(np.hypot(x - centre[0], y - centre[1]))
    main = components == components[y[nearest], x[nearest]]
    ys, xs = np.nonzero(main)
    weights = np.clip(smooth[ys, xs], 1e-12, None)
    cx, cy = np.average(xs, weights=weights), np.average(ys, weights=weights)
    radius = np.hypot(xs - cx, ys - cy)
    order = np.argsort(radius)
    r_half = radius[order][np.searchsorted(np.cumsum(weights[order]), weights.sum() / 2)]
    semi_major = 2 * np.sqrt(
        np.linalg.eigvalsh(np.cov(np.stack([xs, ys])) if len(xs) > 1 else np.eye(2) / 4)[1]
    )
    half = max(HALF_LIGHT_SCALE * r_half, ISOPHOTE_SCALE * semi_major)
    return square_frame(width, height, (cx + 0.5) / scale, (cy + 0.5) / scale, half / scale)


def _border(shape_hw: tuple[int, int]) -> np.ndarray:
    width = max(2, min(shape_hw) // 8)
    mask = np.ones(shape_hw, dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def framed_segmentation(rgb: np.ndarray) -> tuple[Frame, Segmentation]:
    """The frame of a uint8 RGB image and the segmentation of its framed view at the working
    size: what the captioner measures a galaxy on."""
    frame = measure_frame(rgb)
    return frame, segment(framed(rgb, frame, WORKING_SIZE))


def square_frame(width: int, height: int, cx: float, cy: float, half: float) -> Frame:
    """A square of half side ``half`` centred near ``(cx, cy)``, shifted (not cut) to fit."""
    shorter = min(width, height)
    side = max(round(min(max(2 * half, MIN_FRACTION * shorter), shorter)), 1)
    x0 = round(min(max(cx - side / 2, 0), width - side))
    y0 = round(min(max(cy - side / 2, 0), height - side))
    return (x0, y0, x0 + side, y0 + side)


def shrink(rgb: np.ndarray, scale: float) -> np.ndarray:
    """``rgb`` resized by ``scale`` (< 1) with area averaging; unchanged when ``scale >= 1``."""
    if scale >= 1.0:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))


def crop(rgb: np.ndarray, frame: Sequence[int]) -> np.ndarray:
    """The pixels inside ``frame``."""
    x0, y0, x1, y1 = (int(v) for v in frame)
    return rgb[y0:y1, x0:x1]


def framed(rgb: np.ndarray, frame: Sequence[int] | None, size: int | None = None) -> np.ndarray:
    """The frame's pixels (the whole image when ``frame`` is None), resized to ``size`` square."""
    image = crop(rgb, frame) if frame is not None else rgb
    if size is None or image.shape[0] == size == image.shape[1]:
        return image
    resample = Image.Resampling.BOX if image.shape[0] > size else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(image).resize((size, size), resample))


def wide_frame(width: int, height: int) -> list[float]:
    """:func:`full_frame` normalised to the image size."""
    x0, y0, x1, y1 = full_frame(width, height)
    return [x0 / width, y0 / height, x1 / width, y1 / height]


def pixel_box(frame: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """A normalised frame in pixels of a ``width`` x ``height`` image (for ``Image.crop``)."""
    x0, y0, x1, y1 = frame
    return (round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height))


def zoomed_frame(frame: Sequence[float], wide: Sequence[float], t: float) -> list[float]:
    """``frame`` grown towards ``wide`` (the largest centred square) by ``t`` in [0, 1].

    ``t = 0`` is the galaxy's frame, ``t = 1`` the wide view that plain open_clip users feed a
    model: training crops in between teach both.
    """
    return [a + (b - a) * t for a, b in zip(frame, wide, strict=True)]


def boxes_in_frame(boxes: Sequence[Sequence[float]], frame: Sequence[float]) -> list[list[float]]:
    """Normalised image boxes re-expressed in a normalised crop, clipped to it."""
    fx0, fy0, fx1, fy1 = frame
    w, h = max(fx1 - fx0, 1e-9), max(fy1 - fy0, 1e-9)
    clip = lambda v: min(max(v, 0.0), 1.0)  # noqa: E731
    return [
        [clip((x0 - fx0) / w), clip((y0 - fy0) / h), clip((x1 - fx0) / w), clip((y1 - fy0) / h)]
        for x0, y0, x1, y1 in boxes
    ]
