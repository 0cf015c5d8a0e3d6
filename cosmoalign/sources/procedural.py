"""Procedural g, r, z galaxies in the ten Galaxy10 DECaLS morphology classes.

Each galaxy is a sum of astropy :class:`~astropy.modeling.functional_models.Sersic2D` components
(de Vaucouleurs-like bulges, exponential discs, boxy bars) evaluated on one pixel grid, with
logarithmic spiral arms, dust lanes, star-forming clumps and tidal tails as modulations of those
profiles. The light is convolved with a Gaussian PSF, field stars are added, and sky and
Poisson/Gaussian noise are applied and the sky subtracted, like a survey cutout. Fluxes are in
units of the sky noise; bulges are redder than discs, arms and clumps bluer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from astropy.modeling.functional_models import Sersic2D
from scipy.ndimage import gaussian_filter
from scipy.special import gamma, gammaincinv

from cosmoalign.labels import GALAXY10_DECALS_CLASSES

BANDS = "grz"
NUM_CLASSES = len(GALAXY10_DECALS_CLASSES)

# g, r, z flux relative to r.
_RED = np.array([0.55, 1.0, 1.35])
_DISC = np.array([0.85, 1.0, 1.05])
_BLUE = np.array([1.35, 1.0, 0.7])
_DUST = np.array([1.0, 0.75, 0.5])  # relative extinction per band
_OVERSAMPLE = 10  # sub-pixels per axis where a profile's cusp is integrated
_CUSP_HALF = 3  # pixels either side of a centre that are supersampled


@dataclass(frozen=True)
class GalaxyParams:
    """Shape of one procedural galaxy; lengths are pixels, angles radians.

    ``r_eff``, ``ellip`` (1 - b/a), ``theta`` (major axis from +x towards +y), ``n`` and
    ``amplitude`` (r-band surface brightness at ``r_eff``, in sky-noise units) describe the main
    component exactly: the single Sersic of a smooth galaxy, the disc of the others. ``r_eff`` is
    its half-light semi-major axis before the PSF. ``bulge_fraction`` is the bulge's share of the
    galaxy's smooth r-band flux; ``tail_brightness`` the r-band surface brightness of a merger's
    tidal tails where they leave their galaxy; ``companion`` the second galaxy of a merger. Zero
    means absent for the optional structures (bulge, arms, bar, dust, clumps, tails, stars).
    """

    class_id: int
    r_eff: float
    ellip: float
    theta: float
    center: tuple[float, float]  # (x, y)
    n: float = 1.0
    amplitude: float = 5.0
    color: tuple[float, float, float] = (0.85, 1.0, 1.05)
    bulge_fraction: float = 0.0
    bulge_r_eff: float = 0.0
    bulge_ellip: float = 0.0
    arms: int = 0
    pitch: float = 0.0
    arm_strength: float = 0.0
    bar_length: float = 0.0
    bar_angle: float = 0.0  # in the disc plane, from the major axis
    dust: float = 0.0
    clumps: int = 0
    irregularity: float = 0.0  # amplitude of random m=1..4 distortions of the isophotes
    lopsided: float = 0.0
    lopsided_angle: float = 0.0  # disc-plane direction of the brighter side
    tail_brightness: float = 0.0
    companion: GalaxyParams | None = None
    psf_sigma: float = 1.2
    n_stars: int = 0


def sample_params(class_id: int, size: int, rng: np.random.Generator) -> GalaxyParams:
    """Draw the parameters of a galaxy of ``class_id`` for a ``size`` x ``size`` cutout."""
    if not 0 <= class_id < NUM_CLASSES:
        raise ValueError(f"class_id must be in [0, {NUM_CLASSES}), got {class_id}")
    u = rng.uniform
    common = {
        "class_id": class_id,
        "theta": u(0.0, np.pi),
        "center": (size / 2 + u(-0.03, 0.03) * size, size / 2 + u(-0.03, 0.03) * size),
        "psf_sigma": u(0.9, 1.6) * size / 128,
        "n_stars": int(rng.choice(4, p=[0.55, 0.25, 0.12, 0.08])),
    }
    if class_id in (2, 3, 4):  # smooth: round, in-between, cigar
        ellip = {2: u(0.0, 0.12), 3: u(0.22, 0.45), 4: u(0.55, 0.72)}[class_id]
        return GalaxyParams(
            r_eff=u(0.065, 0.1) * size,
            ellip=ellip,
            n=u(1.5, 3.0),
            amplitude=u(5.0, 12.0),
            color=_jitter(_RED, rng),
            **common,
        )
    if class_id in (8, 9):  # edge-on discs
        bulged = class_id == 9
        return GalaxyParams(
            r_eff=u(0.12, 0.18) * size,
            ellip=u(0.82, 0.9),
            n=u(0.8, 1.1),
            amplitude=u(4.0, 8.0),
            color=_jitter(_DISC, rng),
            bulge_fraction=u(0.3, 0.5) if bulged else 0.0,
            bulge_r_eff=u(0.04, 0.06) * size if bulged else 0.0,
            bulge_ellip=u(0.05, 0.3) if bulged else 0.0,
            dust=u(0.6, 0.9) if rng.random() < 0.7 else 0.0,
            **common,
        )
    if class_id in (5, 6, 7):  # spirals
        r_eff = u(0.1, 0.15) * size
        loose = class_id == 7
        return GalaxyParams(
            r_eff=r_eff,
            ellip=u(0.0, 0.35),
            n=1.0,
            amplitude=u(2.5, 5.0),
            color=_jitter(_DISC, rng),
            bulge_fraction={5: u(0.1, 0.3), 6: u(0.15, 0.35), 7: u(0.03, 0.12)}[class_id],
            bulge_r_eff=u(0.12, 0.22) * r_eff,
            bulge_ellip=u(0.0, 0.15),
            arms=2 if rng.random() < 0.8 or not loose else 3,
            pitch=float(np.deg2rad({5: u(14, 22), 6: u(8, 13), 7: u(22, 32)}[class_id])),
            arm_strength=u(0.55, 0.85),
            bar_length=u(0.6, 0.9) * r_eff if class_id == 5 else 0.0,
            bar_angle=u(0.0, np.pi),
            clumps=int(u(8, 20)) if loose else int(u(0, 6)),
            **common,
        )
    if class_id == 1:  # merging: two galaxies with tidal tails
        sep = u(0.12, 0.22) * size
        angle = u(0.0, 2 * np.pi)
        cx, cy = common.pop("center")
        offset = np.array([np.cos(angle), np.sin(angle)]) * sep / 2
        companion = GalaxyParams(
            class_id=class_id,
            r_eff=u(0.04, 0.08) * size,
            ellip=u(0.0, 0.5),
            theta=u(0.0, np.pi),
            center=(float(cx - offset[0]), float(cy - offset[1])),
            n=u(1.0, 4.0),
            amplitude=u(3.0, 10.0),
            color=_jitter(_RED if rng.random() < 0.5 else _DISC, rng),
        )
        return GalaxyParams(
            r_eff=u(0.05, 0.09) * size,
            ellip=u(0.0, 0.5),
            center=(float(cx + offset[0]), float(cy + offset[1])),
            n=u(1.0, 4.0),
            amplitude=u(3.0, 10.0),
            color=_jitter(_RED if rng.random() < 0.5 else _DISC, rng),
            tail_brightness=u(5.0, 10.0),
            irregularity=u(0.05, 0.15),
            companion=companion,
            **common,
        )
    # class 0, disturbed: lopsided clumpy disc
    return GalaxyParams(
        r_eff=u(0.08, 0.14) * size,
        ellip=u(0.0, 0.5),
        n=u(0.6, 1.5),
        amplitude=u(4.0, 8.0),
        color=_jitter(_DISC, rng),
        clumps=int(u(4, 12)),
        irregularity=u(0.3, 0.5),
        lopsided=u(0.7, 1.0),
        lopsided_angle=u(0.0, 2 * np.pi),
        **common,
    )


def render_galaxy(params: GalaxyParams, size: int, rng: np.random.Generator) -> np.ndarray:
    """Render ``params`` as a float32 ``(size, size, 3)`` g, r, z cutout with PSF and noise.

    ``rng`` draws the stochastic details (clump and star positions, tail shapes) and the noise.
    """
    grid = _grid(size)
    light = _galaxy_light(params, grid, rng)
    if params.companion is not None:
        light += _galaxy_light(params.companion, grid, rng)
        light += _tidal_tails(params, params.companion, size, rng)
    light += _field_stars(params.n_stars, size, rng)
    sigma = params.psf_sigma
    light = gaussian_filter(light, sigma=(sigma, sigma, 0.0), mode="constant")
    return _add_noise(light, rng).astype(np.float32)


@lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[:size, :size].astype(np.float64)
    y.flags.writeable = False
    x.flags.writeable = False
    return x, y


def _jitter(color: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    g, _, z = color * rng.uniform(0.92, 1.08, size=3)
    return (float(g), 1.0, float(z))


def _sersic(
    grid: tuple[np.ndarray, np.ndarray],
    amplitude: float,
    r_eff: float,
    n: float,
    center: tuple[float, float],
    ellip: float,
    theta: float,
) -> np.ndarray:
    """A Sersic profile sampled at ``grid``, with the pixels round its centre integrated.

    The integrated patch uses the undistorted pixel grid, so ``grid`` may be warped away from the
    centre only.
    """
    x, y = grid
    x0, y0 = center
    image = Sersic2D.evaluate(x, y, amplitude, r_eff, n, x0, y0, ellip, theta)
    size = x.shape[0]
    cx, cy = round(x0), round(y0)
    x_lo, x_hi = max(cx - _CUSP_HALF, 0), min(cx + _CUSP_HALF + 1, size)
    y_lo, y_hi = max(cy - _CUSP_HALF, 0), min(cy + _CUSP_HALF + 1, size)
    if x_lo >= x_hi or y_lo >= y_hi:
        return image
    sub = (np.arange(_OVERSAMPLE) + 0.5) / _OVERSAMPLE - 0.5
    px = np.arange(x_lo, x_hi)[None, :, None, None] + sub[None, None, None, :]
    py = np.arange(y_lo, y_hi)[:, None, None, None] + sub[None, None, :, None]
    fine = Sersic2D.evaluate(px, py, amplitude, r_eff, n, x0, y0, ellip, theta)
    image[y_lo:y_hi, x_lo:x_hi] = fine.mean(axis=(2, 3))
    return image


def _sersic_flux(amplitude: float, r_eff: float, n: float, ellip: float) -> float:
    """Total flux of an elliptical Sersic profile."""
    bn = gammaincinv(2 * n, 0.5)
    radial_integral = n * np.exp(bn) * bn ** (-2 * n) * gamma(2 * n)
    return float(2 * np.pi * r_eff**2 * (1 - ellip) * amplitude * radial_integral)


def _disc_polar(
    grid: tuple[np.ndarray, np.ndarray], p: GalaxyParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates in the (deprojected) disc plane: along-major, along-minor, radius, angle."""
    x, y = grid
    dx, dy = x - p.center[0], y - p.center[1]
    cos_t, sin_t = np.cos(p.theta), np.sin(p.theta)
    u = dx * cos_t + dy * sin_t
    v = (-dx * sin_t + dy * cos_t) / (1 - p.ellip)
    return u, v, np.hypot(u, v), np.arctan2(v, u)


def _galaxy_light(
    p: GalaxyParams, grid: tuple[np.ndarray, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Noise-free, PSF-free g, r, z light of one galaxy (no companion, no stars)."""
    warped = _warp(grid, p, rng) if p.irregularity > 0 else grid
    main = _sersic(warped, p.amplitude, p.r_eff, p.n, p.center, p.ellip, p.theta)
    color = np.asarray(p.color)
    if p.arms == 0 and p.lopsided == 0.0:
        light = main[..., None] * color
    else:
        u, v, r, phi = _disc_polar(grid, p)
        light = _structured_disc(p, main, r, phi, color)
        if p.bar_length > 0:
            light += _bar(p, u, v)[..., None] * _RED
    if p.bulge_fraction > 0:
        light += _bulge(p, grid)[..., None] * _jitter(_RED, rng)
    if p.clumps:
        light += _clumps(p, grid[0].shape[0], rng)
    if p.dust > 0:
        light *= _dust_lane(p, grid)
    return light


def _warp(
    grid: tuple[np.ndarray, np.ndarray], p: GalaxyParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stretch the grid radially by random m=1..4 harmonics, fading in outwards from the core."""
    x, y = grid
    dx, dy = x - p.center[0], y - p.center[1]
    phi = np.arctan2(dy, dx)
    orders = np.arange(1, 5)[:, None, None]
    phases = rng.uniform(0.0, 2 * np.pi, (4, 1, 1))
    weights = rng.uniform(0.5, 1.0, (4, 1, 1)) / orders
    taper = (dx**2 + dy**2) / (dx**2 + dy**2 + (0.5 * p.r_eff) ** 2)
    delta = p.irregularity * taper * (weights * np.cos(orders * phi + phases)).sum(axis=0)
    stretch = np.maximum(1 + delta, 0.3)
    return p.center[0] + dx * stretch, p.center[1] + dy * stretch


def _structured_disc(
    p: GalaxyParams, disc: np.ndarray, r: np.ndarray, phi: np.ndarray, color: np.ndarray
) -> np.ndarray:
    """Redistribute the disc's light azimuthally into spiral arms or a lopsided pattern."""
    if p.arms:
        inner = p.bar_length if p.bar_length > 0 else 0.6 * p.r_eff
        winding = np.log(np.maximum(r, 0.5) / max(inner, 1.0)) / np.tan(p.pitch)
        phase = p.arms * (phi - winding - p.bar_angle)
        sharpness = 4.0
        pattern = (0.5 * (1 + np.cos(phase))) ** sharpness
        pattern /= _mean_cos_power(sharpness)
        strength = p.arm_strength * (1 - np.exp(-((r / inner) ** 2)))
        smooth = disc * (1 - strength)
        arms = disc * strength * pattern
        return smooth[..., None] * color + arms[..., None] * _BLUE
    # lopsided: light shifted to one side, more so further out
    outer = r / (r + 0.5 * p.r_eff)
    weight = 1 + p.lopsided * outer * np.cos(phi - p.lopsided_angle)
    return (disc * weight)[..., None] * color


@lru_cache(maxsize=4)
def _mean_cos_power(k: float) -> float:
    """Mean over a period of ((1 + cos x) / 2) ** k."""
    x = np.linspace(0, 2 * np.pi, 4096, endpoint=False)
    return float(np.mean((0.5 * (1 + np.cos(x))) ** k))


def _bar(p: GalaxyParams, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A boxy, flat (n=0.6) elongated bar in the disc plane, brighter than the inner disc."""
    level = p.amplitude * 5.0
    return Sersic2D.evaluate(u, v, level, 0.7 * p.bar_length, 0.6, 0, 0, 0.78, p.bar_angle, c=1.0)


def _bulge(p: GalaxyParams, grid: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A de Vaucouleurs bulge holding ``bulge_fraction`` of the smooth r-band light."""
    disc_flux = _sersic_flux(p.amplitude, p.r_eff, p.n, p.ellip)
    bulge_flux = disc_flux * p.bulge_fraction / (1 - p.bulge_fraction)
    unit = _sersic_flux(1.0, p.bulge_r_eff, 4.0, p.bulge_ellip)
    return _sersic(grid, bulge_flux / unit, p.bulge_r_eff, 4.0, p.center, p.bulge_ellip, p.theta)


def _splat(points: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Point fluxes ``(N,)`` at ``(N, 2)`` x, y positions, bilinearly on a size x size image."""
    image = np.zeros((size, size))
    x, y = points[:, 0], points[:, 1]
    inside = (x >= 0) & (x < size - 1) & (y >= 0) & (y < size - 1)
    x, y, w = x[inside], y[inside], weights[inside]
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    np.add.at(image, (y0, x0), w * (1 - fx) * (1 - fy))
    np.add.at(image, (y0, x0 + 1), w * fx * (1 - fy))
    np.add.at(image, (y0 + 1, x0), w * (1 - fx) * fy)
    np.add.at(image, (y0 + 1, x0 + 1), w * fx * fy)
    return image


def _clumps(p: GalaxyParams, size: int, rng: np.random.Generator) -> np.ndarray:
    """Blue star-forming knots: along the arms of a spiral, one-sided in a disturbed disc."""
    k = p.clumps
    if p.arms:
        r = p.r_eff * rng.uniform(0.6, 2.2, k)
        inner = p.bar_length if p.bar_length > 0 else 0.6 * p.r_eff
        arm = rng.integers(0, p.arms, k)
        phi = p.bar_angle + np.log(r / max(inner, 1.0)) / np.tan(p.pitch) + 2 * np.pi * arm / p.arms
    else:
        r = p.r_eff * rng.uniform(0.3, 2.0, k)
        phi = p.lopsided_angle + rng.normal(0.0, 0.9, k)
    u, v = r * np.cos(phi), r * np.sin(phi) * (1 - p.ellip)
    cos_t, sin_t = np.cos(p.theta), np.sin(p.theta)
    points = np.stack(
        [p.center[0] + u * cos_t - v * sin_t, p.center[1] + u * sin_t + v * cos_t], axis=1
    )
    flux = p.amplitude * rng.uniform(15.0, 40.0, k) * (size / 128) ** 2
    knots = gaussian_filter(_splat(points, flux, size), 1.2 * size / 128)
    return knots[..., None] * _BLUE


def _tidal_tails(
    p: GalaxyParams, companion: GalaxyParams, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Curved, fading tails flung out of both galaxies of a merger, away from each other."""
    tails = np.zeros((size, size))
    c1, c2 = np.asarray(p.center), np.asarray(companion.center)
    sense = rng.choice([-1.0, 1.0])
    for start, other, r_eff in ((c1, c2, p.r_eff), (c2, c1, companion.r_eff)):
        away = np.arctan2(*(start - other)[::-1])
        t = np.linspace(0.0, 1.0, 400)
        radius = r_eff * (0.5 + rng.uniform(3.0, 5.0) * t)
        angle = away + sense * rng.uniform(1.2, 2.2) * t
        points = start + np.stack([np.cos(angle), np.sin(angle)], axis=1) * radius[:, None]
        step = np.linalg.norm(np.gradient(points, axis=0), axis=1)  # pixels of tail per point
        tails += _splat(points, p.tail_brightness * np.exp(-2.0 * t) * step, size)
    width = rng.uniform(2.0, 3.5) * size / 128
    # blurring a line of unit density leaves a ridge of height 1 / (sqrt(2 pi) width)
    tails = gaussian_filter(tails, width) * np.sqrt(2 * np.pi) * width
    return tails[..., None] * _DISC


def _dust_lane(p: GalaxyParams, grid: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Transmission of a thin dust lane along the major axis, slightly off the mid-plane."""
    x, y = grid
    dx, dy = x - p.center[0], y - p.center[1]
    along = dx * np.cos(p.theta) + dy * np.sin(p.theta)
    across = -dx * np.sin(p.theta) + dy * np.cos(p.theta)
    thickness = (1 - p.ellip) * p.r_eff
    lane = np.exp(-0.5 * ((across - 0.25 * thickness) / (0.4 * thickness)) ** 2)
    extent = np.exp(-0.5 * (along / (1.8 * p.r_eff)) ** 2)
    return 1 - (p.dust * lane * extent)[..., None] * _DUST


def _field_stars(count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Foreground stars: point sources (the PSF gives them their shape) of random colour."""
    stars = np.zeros((size, size, 3))
    if count == 0:
        return stars
    points = rng.uniform(0.05 * size, 0.95 * size, (count, 2))
    flux = 10 ** rng.uniform(1.5, 3.3, count) * (size / 128) ** 2
    mix = rng.uniform(0.0, 1.0, count)
    colors = mix[:, None] * _RED + (1 - mix[:, None]) * _BLUE
    for band in range(3):
        stars[..., band] = _splat(points, flux * colors[:, band], size)
    return stars


def _add_noise(light: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add sky, draw Poisson counts plus read noise, subtract the sky (noise sigma ~ 1)."""
    gain = rng.uniform(5.0, 20.0)  # counts per unit flux
    sky = 0.9 * gain  # flux units: its Poisson variance, 0.9, and the read noise's 0.1 make ~1
    counts = rng.poisson(np.clip(light + sky, 0.0, None) * gain)
    read = rng.normal(0.0, 0.1**0.5, light.shape)
    return counts / gain - sky + read
