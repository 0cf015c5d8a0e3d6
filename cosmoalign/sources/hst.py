"""Real, unlabelled galaxy cutouts from the Hubble Deep Field image bundled with scikit-image.

Sources are detected on the smoothed luminance (a threshold in robust sky-noise units, then a
watershed from the brightness peaks to split blends). Each gets a square window sized from the
spread of its light, resized to a fixed output size with anti-aliasing. Sources too small, or
whose window would leave the image, are skipped. Detection is deterministic, so a source's id
(its pixel centroid) is stable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from skimage.measure._regionprops import RegionProperties

HDF_URI = "skimage://hubble_deep_field"
_SMOOTH_SIGMA = 1.5  # pixels
_THRESHOLD = 5.0  # robust sky-noise units above the median
_MIN_AREA = 40  # pixels above the threshold
_MIN_PEAK_DISTANCE = 8  # pixels between the brightness peaks of two blended sources
_WINDOW_SCALE = 8.0  # window side / light-weighted RMS extent along the source's major axis
_MIN_SIDE = 32  # pixels in the original image


@dataclass(frozen=True)
class HstCutout:
    """One detected source: its id, centroid and window in the HDF image, and the cutout."""

    object_id: str
    x: int
    y: int
    side: int
    image: np.ndarray  # uint8 (size, size, 3)


def hst_cutouts(size: int = 128, max_items: int | None = None) -> Iterator[HstCutout]:
    """Yield cutouts of the detected HDF sources, largest first, as uint8 ``(size, size, 3)``."""
    from skimage.transform import resize

    image = _hubble_deep_field()
    for x, y, side in _detections()[:max_items]:
        top, left = y - side // 2, x - side // 2
        window = image[top : top + side, left : left + side]
        resized = resize(window, (size, size, 3), order=1, anti_aliasing=True, preserve_range=True)
        yield HstCutout(
            object_id=f"hdf-x{x:04d}-y{y:04d}",
            x=x,
            y=y,
            side=side,
            image=np.clip(np.rint(resized), 0, 255).astype(np.uint8),
        )


@lru_cache(maxsize=1)
def _hubble_deep_field() -> np.ndarray:
    """The bundled HST image, uint8 (872, 1000, 3); read from the installed package, no network."""
    from skimage import data

    image = data.hubble_deep_field()
    image.flags.writeable = False
    return image


@lru_cache(maxsize=1)
def _detections() -> tuple[tuple[int, int, int], ...]:
    """(x, y, window side) of every usable source, by decreasing area then position."""
    from skimage.color import rgb2gray
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian
    from skimage.measure import label, regionprops
    from skimage.segmentation import watershed

    image = _hubble_deep_field()
    height, width = image.shape[:2]
    smooth = gaussian(rgb2gray(image), sigma=_SMOOTH_SIGMA)
    median = float(np.median(smooth))
    noise = 1.4826 * float(np.median(np.abs(smooth - median)))
    mask = smooth > median + _THRESHOLD * noise
    peaks = peak_local_max(smooth, min_distance=_MIN_PEAK_DISTANCE, labels=label(mask))
    markers = np.zeros(smooth.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    segments = watershed(-smooth, markers, mask=mask)  # deblends touching sources
    regions = regionprops(segments, intensity_image=np.clip(smooth - median, 0.0, None))
    found: dict[tuple[int, int], tuple[int, int]] = {}
    for region in regions:
        if region.area < _MIN_AREA:
            continue
        y, x = (round(float(c)) for c in region.centroid_weighted)
        side = max(_MIN_SIDE, int(np.ceil(_WINDOW_SCALE * _major_sigma(region))))
        top, left = y - side // 2, x - side // 2
        if top < 0 or left < 0 or top + side > height or left + side > width:
            continue
        found.setdefault((x, y), (int(region.area), side))
    ranked = sorted(found.items(), key=lambda item: (-item[1][0], item[0][1], item[0][0]))
    return tuple((x, y, side) for (x, y), (_, side) in ranked)


def _major_sigma(region: RegionProperties) -> float:
    """RMS extent of a region's light along its major axis (from sky-subtracted moments)."""
    mu = region.moments_weighted_central
    cov = np.array([[mu[2, 0], mu[1, 1]], [mu[1, 1], mu[0, 2]]]) / mu[0, 0]
    return float(np.sqrt(np.linalg.eigvalsh(cov)[-1]))
