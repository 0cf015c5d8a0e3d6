"""What type of galaxy a cutout shows, decided from its measurements, in astronomers' words.

The spiral test is a logistic model of seven measurements (structure left after removing a
smooth elliptical model, in absolute and positive parts; colour, shape, concentration, surface
brightness and asymmetry), fitted on the 1,400 real SDSS galaxies of the gz-kaggle-spirals
train split (Galaxy Zoo spiral / non-spiral) at the framing and working size of
:mod:`cosmoalign.framing`; the held-out precision of every statement is measured by
``bench/caption_truth.py``. The other types are rules on the same
measurements: an edge-on disc is thin; a merger has a comparably bright, large neighbour close to
the galaxy (thresholds set so that procedural mergers are found with no false alarm among the
other renders, and gz-kaggle-spirals validation, which has few mergers, gets few); an elliptical
or lenticular is what the spiral model calls smooth, split by flattening.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosmoalign.captions.measure import Morphology, Residual, Segmentation, smooth_model_residual

ELLIPTICAL, LENTICULAR, SPIRAL = "elliptical", "lenticular", "spiral"
EDGE_ON, MERGING, IRREGULAR, UNCERTAIN = "edge-on disk", "merging", "irregular", "uncertain"
TYPES = (ELLIPTICAL, LENTICULAR, SPIRAL, EDGE_ON, MERGING, IRREGULAR, UNCERTAIN)

# Logistic spiral model on (|residual|, positive residual, red/blue, ellipticity, C,
# log(1 + surface brightness), asymmetry), fitted on gz-kaggle-spirals train (AUC 0.87 on its
# validation split).
_SPIRAL_WEIGHTS = np.array([35.9334, -26.2479, -1.4715, -1.4581, 0.582, -0.1265, 0.5834])
_SPIRAL_BIAS = -2.046
SPIRAL_THRESHOLD = 0.7  # P(spiral) above which a galaxy is called spiral
SMOOTH_THRESHOLD = 0.3  # P(spiral) below which it is called smooth
_EDGE_ON_ELLIPTICITY = 0.6  # b/a <= 0.4: a disc seen edge-on (ellipticals stop near E7, 0.7)
_LENTICULAR_ELLIPTICITY = 0.45  # smooth and this flat: a lenticular or flattened elliptical
_BULGE_CONCENTRATION = 3.0
# A merger partner holds 40% of the galaxy's flux and a fifth of its area (star-forming knots of
# spiral arms, deblended as sources, do not) and sits between half and 1.5 semi-major axes out.
_MERGER_FLUX_RATIO = 0.4
_MERGER_AREA_RATIO = 0.2
_MERGER_SEPARATION = (0.5, 1.5)
_POINT_RADIUS = 3.5  # pixels: effective radius of a star at the working size
_IRREGULAR_ASYMMETRY = 0.5
_RESIDUAL_SIGMA = 3.0


@dataclass(frozen=True)
class GalaxyType:
    """The type of the central galaxy and the evidence for it."""

    kind: str
    spiral_probability: float
    bulge: bool
    companion: bool
    """An extended neighbour (a galaxy, not a star) close to the central one."""


def spiral_probability(seg: Segmentation, m: Morphology, model: Residual | None = None) -> float:
    """P(spiral) of the central galaxy from the logistic model above (``model``: its
    :func:`smooth_model_residual` when already computed)."""
    residual, zone = model or smooth_model_residual(seg, m)
    total = max(float(seg.smooth[seg.labels == seg.main.label].sum()), 1e-12)
    excess = zone & (residual > _RESIDUAL_SIGMA * seg.noise)
    features = np.array(
        [
            np.abs(residual[zone]).sum() / total,
            residual[excess].sum() / total,
            m.colour,
            m.ellipticity,
            m.concentration,
            np.log1p(max(m.surface_brightness, 0.0)),
            m.asymmetry,
        ]
    )
    return float(1 / (1 + np.exp(-(features @ _SPIRAL_WEIGHTS + _SPIRAL_BIAS))))


def classify(seg: Segmentation, m: Morphology, residual: Residual | None = None) -> GalaxyType:
    """The galaxy type of a measured cutout (``uncertain`` where the evidence is weak);
    ``residual`` is its :func:`smooth_model_residual` when already computed."""
    if not m.detected or seg.main is None:
        return GalaxyType(UNCERTAIN, 0.0, False, False)
    p_spiral = spiral_probability(seg, m, residual)
    neighbours = [s for s in seg.sources if s.label != seg.main.label]
    extended = [s for s in neighbours if s.effective_radius > _POINT_RADIUS]
    near, far = (limit * max(m.semi_major, 1.0) for limit in _MERGER_SEPARATION)
    close = [
        s for s in extended if np.hypot(s.peak[0] - m.center[0], s.peak[1] - m.center[1]) <= far
    ]
    bulge = m.concentration >= _BULGE_CONCENTRATION
    merging = any(
        s.flux >= _MERGER_FLUX_RATIO * seg.main.flux
        and s.area >= _MERGER_AREA_RATIO * seg.main.area
        and np.hypot(s.peak[0] - m.center[0], s.peak[1] - m.center[1]) >= near
        for s in close
    )
    if merging:
        kind = MERGING
    elif m.ellipticity >= _EDGE_ON_ELLIPTICITY:
        kind = EDGE_ON
    elif p_spiral >= SPIRAL_THRESHOLD:
        kind = SPIRAL
    elif m.asymmetry >= _IRREGULAR_ASYMMETRY:
        kind = IRREGULAR
    elif p_spiral <= SMOOTH_THRESHOLD:
        kind = LENTICULAR if m.ellipticity >= _LENTICULAR_ELLIPTICITY else ELLIPTICAL
    else:
        kind = UNCERTAIN
    return GalaxyType(kind, p_spiral, bulge, bool(close))
