"""Non-parametric morphology of the central galaxy of a uint8 RGB cutout.

Pixels are first put back on a linear flux scale by inverting the Lupton asinh mapping that
:func:`cosmoalign.imaging.lupton_rgb` applies (``Q = 10``); for images rendered any other way this
is a monotonic proxy for flux. Sources are detected above a sigma-clipped background, deblended at
significant peaks (watershed), and the one at (or nearest) the centre is measured: elliptical
curve-of-growth radii, second-moment shape, concentration and Conselice asymmetry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

# Channel sum of the Lupton mapping in imaging.lupton_rgb (Q = 10, frac = 0.1):
# sum(rgb) = 3 * 255 * 0.1 / asinh(1) * asinh(Q * I / stretch).
_ASINH_SCALE = 3 * 255 * 0.1 / np.arcsinh(1.0)
_SMOOTH = 1.0  # gaussian sigma (pixels) of the detection image
_DEBLEND_SMOOTH = 3.0  # gaussian sigma of the deblending image: washes out arms and knots
_DETECT_SIGMA = 3.0  # detection threshold in background sigmas of the smoothed image
_PEAK_SIGMA = 6.0  # a source's peak must stand this far above the background
_MIN_AREA = 10  # pixels: smaller detections are noise
_PEAK_CONTRAST = 0.5  # a peak is its own source when it rises this fraction above the saddle
_NEIGHBOUR_SIGMA = 10.0  # peak significance of sources counted as neighbours
_APERTURE = 2.0  # curve of growth out to this many isophotal semi-major axes
_PEAK_DISTANCE = 2  # pixels (Chebyshev) between the local maxima taken as deblending peaks
# Linear intensity of each channel sum of a uint8 RGB pixel (0 ... 765), looked up, not computed.
_INTENSITY = np.sinh(np.arange(3 * 255 + 1, dtype=np.float64) / _ASINH_SCALE)


@dataclass(frozen=True)
class Source:
    """One deblended detection: its label in the segmentation map and basic properties."""

    label: int
    peak: tuple[int, int]  # (x, y)
    peak_sigma: float  # smoothed peak height in background sigmas
    flux: float
    area: int
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1), x1/y1 exclusive

    @property
    def effective_radius(self) -> float:
        """Radius of a disc of uniform peak brightness holding the flux: ~PSF size for stars."""
        return float(np.sqrt(max(self.flux, 0.0) / (np.pi * max(self.peak_sigma, 1e-9))))


@dataclass(frozen=True)
class Segmentation:
    """Linear flux images, noise level and deblended source map of a cutout."""

    flux: np.ndarray  # (H, W) background-subtracted linear luminance
    bands: np.ndarray  # (H, W, 3) background-subtracted linear R, G, B
    smooth: np.ndarray  # flux smoothed for detection
    noise: float  # background sigma of ``smooth``
    labels: np.ndarray  # (H, W) int, 0 = background
    sources: list[Source]
    main: Source | None  # the source at or nearest the centre


@dataclass(frozen=True)
class Morphology:
    """Measurements of the central galaxy; lengths in pixels, angles in radians.

    ``position_angle`` is the major axis from +x towards +y (image rows down), in [0, pi).
    ``colour`` is the red/blue channel flux ratio; ``surface_brightness`` the mean flux per pixel
    inside the half-light ellipse in units of the per-pixel background noise.
    """

    detected: bool
    image_size: tuple[int, int]  # (width, height)
    center: tuple[float, float] = (0.0, 0.0)
    r_half: float = 0.0
    semi_major: float = 0.0
    ellipticity: float = 0.0
    position_angle: float = 0.0
    concentration: float = 0.0
    asymmetry: float = 0.0
    colour: float = 0.0
    surface_brightness: float = 0.0
    n_neighbours: int = 0
    area: int = 0


def linearize(image: np.ndarray) -> np.ndarray:
    """Undo the asinh stretch of a uint8 RGB image: ``(H, W, 3)`` linear flux, relative units."""
    pixels = np.asarray(image)[..., :3]
    rgb = pixels.astype(np.float64)
    total = rgb.sum(axis=-1)
    if pixels.dtype == np.uint8:
        intensity = _INTENSITY[pixels.sum(axis=-1, dtype=np.int32)]
    else:
        intensity = np.sinh(total / _ASINH_SCALE)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total[..., None] > 0, rgb / total[..., None], 0.0)
    return share * intensity[..., None]


def segment(image: np.ndarray) -> Segmentation:
    """Detect and deblend the sources of a uint8 RGB image and pick the central one."""
    bands = linearize(image)
    border = _border_mask(bands.shape[:2])
    bands = bands - np.array([_background(b[border]) for b in np.moveaxis(bands, -1, 0)])
    flux = bands.sum(axis=-1)
    smooth = ndimage.gaussian_filter(flux, _SMOOTH)
    _, level, noise = clipped_stats(smooth[border])
    noise = float(noise) if noise > 0 else float(np.std(smooth)) or 1.0
    smooth = smooth - level
    mask = ndimage.binary_fill_holes(smooth > _DETECT_SIGMA * noise)
    components, count = ndimage.label(mask)
    sizes = ndimage.sum_labels(mask, components, np.arange(1, count + 1))
    mask &= np.isin(components, 1 + np.flatnonzero(sizes >= _MIN_AREA))
    markers = _deblend_peaks(flux, smooth, mask, noise)
    components, _ = ndimage.label(mask)
    mask &= np.isin(components, components[markers > 0])
    labels = watershed(-smooth, markers, mask=mask) if markers.any() else markers
    sources = _sources(labels, flux, smooth, noise)
    return Segmentation(flux, bands, smooth, noise, labels, sources, _central(sources, labels))


def measure_galaxy(image: np.ndarray) -> Morphology:
    """Measure the central galaxy of a uint8 RGB image; ``detected=False`` when there is none."""
    return measure_segmentation(segment(image))


def measure_segmentation(seg: Segmentation) -> Morphology:
    """Measure the central source of an already segmented image."""
    height, width = seg.flux.shape
    if seg.main is None:
        return Morphology(detected=False, image_size=(width, height))
    main = seg.labels == seg.main.label
    cx, cy, ellip, theta, semi_major = shape(seg.flux, main)
    others = (seg.labels > 0) & ~main
    radius = elliptical_radius(seg.flux.shape, (cx, cy), ellip, theta)
    aperture = (radius <= _APERTURE * semi_major) & ~others
    r20, r_half, r80 = _growth_radii(seg.flux, radius, aperture, (0.2, 0.5, 0.8))
    inner = (radius <= r_half) & ~others
    pixel_noise = _pixel_noise(seg.flux)
    red, _, blue = np.clip(seg.bands[main].sum(axis=0), 0.0, None)
    return Morphology(
        detected=True,
        image_size=(width, height),
        center=(cx, cy),
        r_half=r_half,
        semi_major=semi_major,
        ellipticity=ellip,
        position_angle=theta,
        concentration=float(5 * np.log10(r80 / r20)) if r20 > 0 else 0.0,
        asymmetry=_asymmetry(seg.flux, main, (cx, cy)),
        colour=float(red / blue) if blue > 0 else 0.0,
        surface_brightness=float(seg.flux[inner].mean() / pixel_noise) if inner.any() else 0.0,
        n_neighbours=sum(
            s.peak_sigma >= _NEIGHBOUR_SIGMA for s in seg.sources if s.label != seg.main.label
        ),
        area=int(main.sum()),
    )


def shape(flux: np.ndarray, mask: np.ndarray) -> tuple[float, float, float, float, float]:
    """Flux-weighted centre, ellipticity, position angle and isophotal semi-major axis of a mask.

    Returns ``(cx, cy, ellipticity, theta, semi_major)``; the semi-major axis is that of the uniform
    ellipse with the mask's unweighted second moments.
    """
    y, x = np.nonzero(mask)
    w = np.clip(flux[y, x], 0.0, None)
    if w.sum() <= 0:
        w = np.ones_like(w)
    cx, cy = np.average(x, weights=w), np.average(y, weights=w)
    dx, dy = x - cx, y - cy
    cov = np.cov(np.stack([dx, dy]), aweights=w) if len(x) > 1 else np.eye(2)
    evals, evecs = np.linalg.eigh(cov)
    minor, major = np.sqrt(np.clip(evals, 1e-12, None))
    theta = float(np.arctan2(evecs[1, 1], evecs[0, 1]) % np.pi)
    mask_cov = np.cov(np.stack([dx, dy])) if len(x) > 1 else np.eye(2) / 4
    semi_major = 2 * float(np.sqrt(max(np.linalg.eigvalsh(mask_cov)[1], 0.25)))
    return float(cx), float(cy), float(1 - minor / major), theta, semi_major


def elliptical_radius(
    shape_hw: tuple[int, int], center: tuple[float, float], ellip: float, theta: float
) -> np.ndarray:
    """Semi-major axis of the ellipse through each pixel (``ellip`` = 1 - b/a)."""
    y, x = np.indices(shape_hw, dtype=np.float64)
    dx, dy = x - center[0], y - center[1]
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    return np.hypot(u, v / max(1 - ellip, 0.05))


Residual = tuple[np.ndarray, np.ndarray]
"""What :func:`smooth_model_residual` returns: ``(residual, zone)``."""


def smooth_model_residual(seg: Segmentation, m: Morphology) -> Residual:
    """Light left after removing a smooth elliptical model of the central galaxy.

    The model is the median of each one-pixel elliptical annulus of the smoothed image. Returns
    ``(residual, zone)``: the residual image and the part of the galaxy outside half its
    half-light radius, where arms, bars' ends, rings and tidal features show.
    """
    main = seg.labels == seg.main.label
    radius = elliptical_radius(main.shape, m.center, m.ellipticity, m.position_angle)
    bins = np.round(radius).astype(int)
    inside = main & (bins > 0)
    if not inside.any():
        return np.zeros_like(seg.smooth), inside
    profile = _binned_median(bins[inside], seg.smooth[inside])
    top = len(profile)
    residual = seg.smooth - profile[np.minimum(bins, top - 1)]
    return residual, inside & (radius >= 0.5 * m.r_half)


def _binned_median(bins: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The median of ``values`` in each integer bin (0 for empty bins), in one sort."""
    order = np.lexsort((values, bins))
    ordered = values[order]
    counts = np.bincount(bins)
    starts = np.cumsum(counts) - counts
    filled = counts > 0
    low = starts[filled] + (counts[filled] - 1) // 2
    high = starts[filled] + counts[filled] // 2
    medians = np.zeros(len(counts))
    medians[filled] = (ordered[low] + ordered[high]) / 2
    return medians


def _border_mask(shape_hw: tuple[int, int]) -> np.ndarray:
    width = max(2, min(shape_hw) // 8)
    mask = np.ones(shape_hw, dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def _deblend_peaks(
    flux: np.ndarray, smooth: np.ndarray, mask: np.ndarray, noise: float
) -> np.ndarray:
    """Watershed markers: per component, significant peaks that a dip separates from brighter ones.

    Peaks and dips are taken on a broadly smoothed image, so spiral arms and star-forming knots
    stay part of their galaxy; components with no significant peak are dropped as noise.
    """
    broad = ndimage.gaussian_filter(flux, _DEBLEND_SMOOTH)
    components, _ = ndimage.label(mask)
    peaks = _local_peaks(broad, components, _PEAK_DISTANCE)
    peaks = [p for p in peaks if smooth[p[0], p[1]] >= _PEAK_SIGMA * noise]
    peaks.sort(key=lambda p: -broad[p[0], p[1]])
    kept: list[list[int]] = []
    for peak in peaks:
        rivals = [k for k in kept if components[k[0], k[1]] == components[peak[0], peak[1]]]
        if all(_is_separate(broad, peak, k) for k in rivals):
            kept.append(peak)
    markers = np.zeros(smooth.shape, dtype=np.int32)
    for i, (row, col) in enumerate(kept, start=1):
        markers[row, col] = i
    return markers


def _local_peaks(image: np.ndarray, labels: np.ndarray, distance: int) -> list[list[int]]:
    """Local maxima ``[row, col]`` of ``image`` per labelled region, brightest first within
    each, at least ``distance`` pixels (Chebyshev) apart and ``distance`` from the image edge.

    The same peaks, in the same order, as scikit-image's ``peak_local_max(image, distance,
    labels=labels)``, without its per-region k-d trees (most of the segmentation's time).
    """
    inner = labels.copy()
    inner[:distance], inner[-distance:], inner[:, :distance], inner[:, -distance:] = 0, 0, 0, 0
    threshold, outside = image.min(), np.finfo(image.dtype).min
    peaks: list[list[int]] = []
    for label, box in enumerate(ndimage.find_objects(inner), start=1):
        if box is None:
            continue
        region = labels[box] == label
        local = np.where(region, image[box], outside)
        candidates = local == ndimage.maximum_filter(local, size=2 * distance + 1, mode="nearest")
        if candidates[region].all():  # a flat region: only its isolated pixels
            candidates = region ^ ndimage.binary_opening(region)
        candidates &= local > threshold
        rows, cols = np.nonzero(candidates)
        order = np.argsort(-local[rows, cols], kind="stable")
        kept: list[tuple[int, int]] = []
        for row, col in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
            if all(max(abs(row - r), abs(col - c)) >= distance for r, c in kept):
                kept.append((row, col))
        peaks += [[row + box[0].start, col + box[1].start] for row, col in kept]
    return peaks


def _is_separate(image: np.ndarray, peak: list[int], brighter: list[int]) -> bool:
    """Whether the dip on the straight line to a brighter peak splits ``peak`` off as a source."""
    n = 2 * int(np.hypot(peak[0] - brighter[0], peak[1] - brighter[1])) + 2
    rows = np.linspace(peak[0], brighter[0], n)
    cols = np.linspace(peak[1], brighter[1], n)
    saddle = ndimage.map_coordinates(image, [rows, cols], order=1).min()
    height = image[peak[0], peak[1]]
    return height - saddle > _PEAK_CONTRAST * height


def _sources(
    labels: np.ndarray, flux: np.ndarray, smooth: np.ndarray, noise: float
) -> list[Source]:
    sources = []
    for label, slices in enumerate(ndimage.find_objects(labels), start=1):
        if slices is None:
            continue
        region = labels[slices] == label
        local = np.where(region, smooth[slices], -np.inf)
        row, col = np.unravel_index(np.argmax(local), local.shape)
        ys, xs = slices
        sources.append(
            Source(
                label=label,
                peak=(int(col + xs.start), int(row + ys.start)),
                peak_sigma=float(local[row, col] / noise),
                flux=float(flux[slices][region].sum() / noise),
                area=int(region.sum()),
                box=(xs.start, ys.start, xs.stop, ys.stop),
            )
        )
    return sources


def _central(sources: list[Source], labels: np.ndarray) -> Source | None:
    """The source covering the image centre, else the one with a pixel nearest to it."""
    if not sources:
        return None
    height, width = labels.shape
    cy, cx = (height - 1) / 2, (width - 1) / 2
    y, x = np.nonzero(labels)
    distance = np.hypot(x - cx, y - cy)
    label = labels[y[np.argmin(distance)], x[np.argmin(distance)]]
    return next(s for s in sources if s.label == label)


def _growth_radii(
    flux: np.ndarray, radius: np.ndarray, aperture: np.ndarray, fractions: tuple[float, ...]
) -> tuple[float, ...]:
    """Elliptical radii enclosing the given fractions of the aperture's flux (interpolated)."""
    order = np.argsort(radius[aperture])
    r = radius[aperture][order]
    cumulative = np.cumsum(flux[aperture][order])
    total = cumulative[-1]
    if total <= 0:
        return tuple(0.0 for _ in fractions)
    # the running sum is noisy at large radii; its first crossing of each level is the radius
    return tuple(float(r[np.argmax(cumulative >= f * total)]) for f in fractions)


def _pixel_noise(flux: np.ndarray) -> float:
    _, _, std = clipped_stats(flux[_border_mask(flux.shape)])
    return float(std) if std > 0 else 1.0


def _asymmetry(flux: np.ndarray, mask: np.ndarray, center: tuple[float, float]) -> float:
    """Conselice (2000) asymmetry: minimum over sub-pixel centres, background term removed."""
    border = _border_mask(flux.shape)
    background = flux[border]
    bg_per_pixel = np.abs(background - background[::-1]).mean()
    # Work inside the box holding the mask and its mirror image (plus the sub-pixel offsets):
    # pixels outside it are in neither, so the sums are those of the whole image.
    ys, xs = np.nonzero(mask)
    height, width = flux.shape
    y0 = max(int(min(ys.min(), np.floor(2 * center[1] - ys.max()))) - 2, 0)
    x0 = max(int(min(xs.min(), np.floor(2 * center[0] - xs.max()))) - 2, 0)
    y1 = min(int(max(ys.max(), np.ceil(2 * center[1] - ys.min()))) + 3, height)
    x1 = min(int(max(xs.max(), np.ceil(2 * center[0] - xs.min()))) + 3, width)
    window, inside = flux[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    # Rotation by 180 degrees about (cx, cy): pixel (x, y) <- (2cx - x, 2cy - y). The centres
    # tried are half-pixel steps, so their rotations differ by whole pixels: rotate once over
    # the window grown by a pixel each side and slice it for every centre.
    grown = (y1 - y0 + 2, x1 - x0 + 2)
    offset = (2 * center[1] - y0 + 1, 2 * center[0] - x0 + 1)
    rotated = ndimage.affine_transform(
        flux, -np.eye(2), offset=offset, output_shape=grown, order=1, mode="constant"
    )
    mirrored = ndimage.affine_transform(
        mask.astype(float), -np.eye(2), offset=offset, output_shape=grown, order=0
    ).astype(bool)
    height, width = window.shape
    best = np.inf
    for dx in (-1, 0, 1):  # twice the half-pixel offset of the centre
        for dy in (-1, 0, 1):
            rows, cols = slice(1 - dy, 1 - dy + height), slice(1 - dx, 1 - dx + width)
            region = inside | mirrored[rows, cols]
            total = np.abs(window[region]).sum()
            if total <= 0:
                continue
            residual = np.abs(window[region] - rotated[rows, cols][region]).sum()
            best = min(best, (residual - bg_per_pixel * region.sum()) / total)
    return float(max(best, 0.0)) if np.isfinite(best) else 0.0


def _background(values: np.ndarray) -> float:
    """Mean sky level; only outliers (stars) are clipped, as the stretch clips the noise at zero
    and a tighter clip would bias the mean of that skewed distribution low."""
    return clipped_stats(values, sigma=5.0)[0]


def clipped_stats(
    values: np.ndarray, sigma: float = 3.0, maxiters: int = 5
) -> tuple[float, float, float]:
    """Mean, median and standard deviation after iterative clipping at ``sigma`` standard
    deviations about the median: astropy's ``sigma_clipped_stats`` with its defaults, without
    its masked-array overhead (non-finite values are dropped first, as it does)."""
    data = values.ravel()
    data = data[np.isfinite(data)]
    for _ in range(maxiters):
        centre, spread = np.median(data), data.std()
        kept = data[(data >= centre - sigma * spread) & (data <= centre + sigma * spread)]
        clipped = kept.size != data.size
        data = kept
        if not clipped:
            break
    return float(data.mean()), float(np.median(data)), float(data.std())
