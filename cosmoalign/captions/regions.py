"""Rule-based region descriptions (GRAIN-style boxes) from the segmentation of a cutout.

They are read off a segmentation and its measurements (see
:mod:`cosmoalign.captions.measurement`, which segments each galaxy once for its type, its
caption and its regions).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cosmoalign.captions.base import Region
from cosmoalign.captions.measure import (
    Morphology,
    Residual,
    Segmentation,
    Source,
    elliptical_radius,
    shape,
    smooth_model_residual,
)

_POINT_RADIUS = 3.5  # pixels: effective radius of a PSF-like (stellar) source
_STAR_SIGMA = 10.0  # peak significance of a field star
_COMPANION_AREA = 30  # pixels: smallest extended source called a galaxy
_BAR_ELLIP = 0.3  # inner isophotes at least this elongated ...
_BAR_EXCESS = 0.15  # ... and this much more elongated than the outer ones (or twisted)
_BAR_TWIST = 0.35  # radians between inner and outer position angles
_ARM_FRACTION = 0.09  # share of galaxy light in significant residuals that counts as structure
_ARM_SIGMA = 3.0  # residual significance per pixel of the smoothed image


def describe_regions(
    seg: Segmentation, m: Morphology, residual: Residual | None = None
) -> list[Region]:
    """Boxes for the parts of the central galaxy and the other sources of a segmented image.

    ``residual`` is the galaxy's :func:`smooth_model_residual` when already computed.
    """
    if seg.main is None or not m.detected:
        return []
    main = seg.labels == seg.main.label
    regions = [Region(seg.main.box, "the whole galaxy", _clip(seg.main.peak_sigma / 20))]
    regions += _core_and_disc(seg, m, main)
    regions += _bar(seg, m, main)
    regions += _arms(seg, m, main, residual or smooth_model_residual(seg, m))
    regions += [_other(s, seg.main) for s in seg.sources if s.label != seg.main.label]
    return regions


def _core_and_disc(seg: Segmentation, m: Morphology, main: np.ndarray) -> list[Region]:
    """The bright centre (above half the peak) and the body within twice the half-light radius."""
    px, py = seg.main.peak
    core, _ = ndimage.label(main & (seg.smooth >= 0.5 * seg.smooth[py, px]))
    core = (core == core[py, px]) & (core > 0)
    total = max(seg.flux[main].sum(), 1e-12)
    core_share = _clip(seg.flux[core].sum() / total)
    core_text = "the bright central bulge" if m.concentration >= 3.0 else "the bright core"
    radius = elliptical_radius(main.shape, m.center, m.ellipticity, m.position_angle)
    body = main & (radius <= 2 * m.r_half)
    disc_text = "the outer disc" if m.concentration < 3.0 else "the diffuse outer envelope"
    parts = [(core, core_text, core_share), (body, disc_text, _clip(1 - core_share))]
    # On irregular sources the peak can sit outside the main mask, or r_half be undefined.
    return [Region(_box(mask), text, score) for mask, text, score in parts if mask.any()]


def _bar(seg: Segmentation, m: Morphology, main: np.ndarray) -> list[Region]:
    """A bar: inner light (circular aperture) more elongated or twisted than the outer light."""
    y, x = np.indices(main.shape)
    r = np.hypot(x - m.center[0], y - m.center[1])
    inner, outer = main & (r <= m.r_half), main & (r > m.r_half) & (r <= 2 * m.r_half)
    if inner.sum() < 10 or outer.sum() < 10:
        return []
    _, _, e_in, pa_in, _ = shape(seg.flux, inner)
    _, _, e_out, pa_out, _ = shape(seg.flux, outer)
    twist = abs((pa_in - pa_out + np.pi / 2) % np.pi - np.pi / 2)
    twisted = twist >= _BAR_TWIST and e_in > e_out
    if e_in < _BAR_ELLIP or not (e_in - e_out >= _BAR_EXCESS or twisted):
        return []
    u = (x - m.center[0]) * np.cos(pa_in) + (y - m.center[1]) * np.sin(pa_in)
    v = -(x - m.center[0]) * np.sin(pa_in) + (y - m.center[1]) * np.cos(pa_in)
    bar = inner & (np.abs(u) <= m.r_half) & (np.abs(v) <= m.r_half * (1 - e_in))
    return [Region(_box(bar), "an elongated central bar", _clip(e_in))]


def _arms(seg: Segmentation, m: Morphology, main: np.ndarray, model: Residual) -> list[Region]:
    """Light left over after removing a smooth elliptical model: arms if 2-fold symmetric and
    not edge-on."""
    residual, zone = model
    if not zone.any():
        return []
    excess = zone & (residual > _ARM_SIGMA * seg.noise)
    share = residual[excess].sum() / max(seg.smooth[main].sum(), 1e-12)
    if share < _ARM_FRACTION:
        return []
    cx, cy = m.center
    rotated = ndimage.affine_transform(excess, -np.eye(2), offset=(2 * cy, 2 * cx), order=0)
    symmetric = (excess & rotated).sum() / excess.sum()
    if symmetric < 0.3:
        text = "irregular, asymmetric structure"
    elif m.ellipticity < 0.6:  # arms are not seen in near edge-on discs
        text = "spiral arms"
    else:
        text = "structure beyond a smooth elliptical profile"
    return [Region(_box(excess), text, _clip(share / 0.2))]


def _other(source: Source, main: Source) -> Region:
    """A field star (point-like, bright peak) or another galaxy."""
    if source.effective_radius <= _POINT_RADIUS and source.peak_sigma >= _STAR_SIGMA:
        return Region(source.box, "a foreground star", _clip(source.peak_sigma / 50))
    if source.area >= _COMPANION_AREA:
        return Region(source.box, "a companion galaxy", _clip(source.flux / main.flux))
    return Region(source.box, "a faint source in the field", _clip(source.peak_sigma / 50))


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _clip(value: float) -> float:
    return float(min(max(value, 0.0), 1.0))
