"""Schematic symbols of galaxy and sky-object shapes (the GalaxAlign third modality).

Every symbol is a clean, deterministic line drawing: white strokes on a black sky, antialiased
(filled shapes use smooth analytic edges, strokes are drawn 4x supersampled and box-downsampled).
Drawing happens in unit coordinates: x to the right, y up, the canvas spans [-1, 1] on both axes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

_SUPERSAMPLE = 4
Point = tuple[float, float]


@dataclass
class Symbol:
    """One schematic symbol: its key, a descriptive text and an RGB uint8 image (size, size, 3)."""

    key: str
    text: str
    image: np.ndarray


# ---- drawing primitives ---------------------------------------------------------------------


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit coordinates of the pixel centres (x right, y up)."""
    c = (np.arange(size, dtype=np.float64) + 0.5) / size * 2.0 - 1.0
    return c[None, :].repeat(size, 0), -c[:, None].repeat(size, 1)


def _fill(dist: np.ndarray, soft: float) -> np.ndarray:
    """Smooth inside-ness from a signed distance (negative inside) with an edge `soft` wide."""
    t = np.clip(0.5 - dist / soft, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _ellipse(
    size: int, cx: float, cy: float, a: float, b: float, angle: float = 0.0, soft: float = 0.02
) -> np.ndarray:
    """A filled ellipse with semi-axes a (along `angle`, radians) and b."""
    x, y = _grid(size)
    ca, sa = math.cos(angle), math.sin(angle)
    u = (x - cx) * ca + (y - cy) * sa
    v = -(x - cx) * sa + (y - cy) * ca
    dist = (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1.0) * min(a, b)
    return _fill(dist, soft)


def _polar_blob(
    size: int, cx: float, cy: float, radius: Callable[[np.ndarray], np.ndarray], soft: float
) -> np.ndarray:
    """A filled star-shaped region whose boundary radius depends on the polar angle."""
    x, y = _grid(size)
    r = np.hypot(x - cx, y - cy)
    return _fill(r - radius(np.arctan2(y - cy, x - cx)), soft)


class _Pen:
    """Strokes drawn on a supersampled canvas, returned as a [0, 1] float layer."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.scale = size * _SUPERSAMPLE / 2.0
        self.img = Image.new("L", (size * _SUPERSAMPLE, size * _SUPERSAMPLE), 0)
        self.draw = ImageDraw.Draw(self.img)

    def _px(self, p: Point) -> Point:
        return ((p[0] + 1.0) * self.scale, (1.0 - p[1]) * self.scale)

    def dot(self, p: Point, r: float) -> None:
        """A filled disc of unit radius r."""
        x, y = self._px(p)
        rp = max(r * self.scale, 0.5)
        self.draw.ellipse((x - rp, y - rp, x + rp, y + rp), fill=255)

    def line(self, pts: Sequence[Point], w0: float, w1: float | None = None) -> None:
        """A polyline whose width tapers linearly from w0 to w1 (unit widths)."""
        w1 = w0 if w1 is None else w1
        n = len(pts)
        for i, p in enumerate(pts):
            w = w0 + (w1 - w0) * i / max(n - 1, 1)
            self.dot(p, w / 2.0)
            if i:
                width = max(round(w * self.scale), 1)
                self.draw.line([self._px(pts[i - 1]), self._px(p)], fill=255, width=width)

    def polygon(self, pts: Sequence[Point]) -> None:
        """A filled polygon."""
        self.draw.polygon([self._px(p) for p in pts], fill=255)

    def layer(self) -> np.ndarray:
        small = self.img.resize((self.size, self.size), Image.Resampling.BOX)
        return np.asarray(small, dtype=np.float64) / 255.0


def _log_spiral(r0: float, r1: float, pitch_deg: float, phase: float, n: int = 400) -> list[Point]:
    """Points of a logarithmic spiral arm from radius r0 out to r1, starting at angle `phase`."""
    k = math.tan(math.radians(pitch_deg))
    theta = np.linspace(0.0, math.log(r1 / r0) / k, n)
    r = r0 * np.exp(k * theta)
    return list(zip(r * np.cos(theta + phase), r * np.sin(theta + phase), strict=True))


def _arc(
    cx: float, cy: float, a: float, b: float, t0: float, t1: float, n: int = 200
) -> list[Point]:
    """Points along an axis-aligned elliptical arc between angles t0 and t1 (radians)."""
    t = np.linspace(t0, t1, n)
    return list(zip(cx + a * np.cos(t), cy + b * np.sin(t), strict=True))


# ---- the shapes -----------------------------------------------------------------------------


def _smooth_round(size: int) -> np.ndarray:
    return _ellipse(size, 0.0, 0.0, 0.55, 0.55, soft=0.18)


def _in_between_round(size: int) -> np.ndarray:
    return _ellipse(size, 0.0, 0.0, 0.62, 0.38, soft=0.14)


def _cigar(size: int) -> np.ndarray:
    return _ellipse(size, 0.0, 0.0, 0.78, 0.15, soft=0.08)


def _lens(size: int, a: float, b: float) -> np.ndarray:
    """A thin lens with pointed tips: |y| < b (1 - (x/a)^2)."""
    x, y = _grid(size)
    half = b * (1.0 - (x / a) ** 2)
    return _fill(np.abs(y) - half, 0.02) * (np.abs(x) < a)


def _edge_on_no_bulge(size: int) -> np.ndarray:
    return _lens(size, 0.88, 0.055)


def _edge_on_bulge(size: int) -> np.ndarray:
    return np.maximum(_lens(size, 0.88, 0.05), _ellipse(size, 0.0, 0.0, 0.3, 0.22, soft=0.05))


def _spiral(size: int, pitch_deg: float, r0: float, bulge: float) -> np.ndarray:
    pen = _Pen(size)
    for phase in (0.0, math.pi):
        pen.line(_log_spiral(r0, 0.88, pitch_deg, phase), 0.06, 0.015)
    return np.maximum(pen.layer(), _ellipse(size, 0.0, 0.0, bulge, bulge, soft=0.05))


def _barred_spiral(size: int) -> np.ndarray:
    pen = _Pen(size)
    bar = 0.34
    for phase in (0.0, math.pi):
        pen.line(_log_spiral(bar, 0.88, 22.0, phase), 0.06, 0.015)
    bar_layer = _ellipse(size, 0.0, 0.0, bar + 0.04, 0.075, soft=0.02)
    bulge = _ellipse(size, 0.0, 0.0, 0.12, 0.12, soft=0.04)
    return np.maximum.reduce([pen.layer(), bar_layer, bulge])


def _bezier(p0: Point, p1: Point, p2: Point, n: int = 120) -> list[Point]:
    """Points along a quadratic Bezier curve."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    pts = (1 - t) ** 2 * np.array(p0) + 2 * (1 - t) * t * np.array(p1) + t**2 * np.array(p2)
    return [(float(x), float(y)) for x, y in pts]


def _merging(size: int) -> np.ndarray:
    pen = _Pen(size)
    pen.line(_bezier((0.3, -0.15), (0.95, -0.45), (0.25, -0.85)), 0.1, 0.015)
    pen.line(_bezier((-0.38, 0.2), (-0.85, 0.4), (-0.55, 0.78), n=80), 0.07, 0.015)
    return np.maximum.reduce(
        [
            pen.layer(),
            _ellipse(size, -0.2, 0.12, 0.3, 0.26, soft=0.1),
            _ellipse(size, 0.18, -0.06, 0.24, 0.21, soft=0.1),
        ]
    )


def _disturbed(size: int) -> np.ndarray:
    def radius(t: np.ndarray) -> np.ndarray:
        wobble = 0.28 * np.cos(t - 0.6) + 0.16 * np.sin(3 * t + 0.4) + 0.1 * np.cos(5 * t + 1.1)
        return 0.42 * (1.0 + wobble)

    blob = _polar_blob(size, -0.08, -0.02, radius, soft=0.1)
    knot = _ellipse(size, 0.32, 0.05, 0.1, 0.1, soft=0.05)
    return np.maximum(0.8 * blob, knot)


def _planet(size: int) -> np.ndarray:
    x, y = _grid(size)
    r = 0.45
    disc = _ellipse(size, 0.0, 0.0, r, r, soft=0.02)
    lit = 0.2 + 0.8 * _fill(-(x + 0.35 * y) / r - 0.15, 0.7)
    ring, gap = _Pen(size), _Pen(size)
    front = _arc(0.0, 0.0, 0.85, 0.2, math.pi, 2 * math.pi)
    back = _arc(0.0, 0.0, 0.85, 0.2, 0.0, math.pi)
    ring.line(front, 0.03)
    gap.line(front, 0.08)
    back_pen = _Pen(size)
    back_pen.line(back, 0.03)
    back_layer = back_pen.layer() * (1.0 - disc)
    body = disc * lit * (1.0 - gap.layer())
    return np.maximum.reduce([body, ring.layer(), back_layer])


def _star(size: int) -> np.ndarray:
    pen = _Pen(size)
    for k in range(8):
        t = k * math.pi / 4
        length, half = (0.9, 0.05) if k % 2 == 0 else (0.45, 0.035)
        tip = (length * math.cos(t), length * math.sin(t))
        side = (-half * math.sin(t), half * math.cos(t))
        pen.polygon([side, tip, (-side[0], -side[1])])
    return np.maximum(pen.layer(), _ellipse(size, 0.0, 0.0, 0.14, 0.14, soft=0.08))


def _asteroid(size: int) -> np.ndarray:
    t = np.linspace(0.0, 2 * math.pi, 360)
    r = 0.5 * (1 + 0.16 * np.sin(2 * t + 0.5) + 0.09 * np.sin(5 * t + 1.3) + 0.05 * np.sin(9 * t))
    outline = list(zip(1.2 * r * np.cos(t), 0.85 * r * np.sin(t), strict=True))
    pen = _Pen(size)
    pen.line(outline, 0.035)
    for cx, cy, cr in ((-0.2, 0.12, 0.09), (0.22, -0.08, 0.07), (0.05, 0.22, 0.05)):
        pen.line(_arc(cx, cy, cr, cr, 0.0, 2 * math.pi, n=60), 0.02)
    return pen.layer()


def _comet(size: int) -> np.ndarray:
    x, y = _grid(size)
    hx, hy, ang = 0.45, 0.45, math.radians(225.0)
    ux, uy = math.cos(ang), math.sin(ang)
    along = (x - hx) * ux + (y - hy) * uy
    across = np.abs(-(x - hx) * uy + (y - hy) * ux)
    width = 0.08 + 0.32 * np.clip(along, 0.0, None)
    tail = _fill(across - width, 0.12) * (along > 0) * np.exp(-np.clip(along, 0, None) / 0.9)
    head = _ellipse(size, hx, hy, 0.14, 0.14, soft=0.06)
    return np.maximum(0.85 * tail, head)


def _nebula(size: int) -> np.ndarray:
    puffs = ((-0.42, -0.05, 0.27), (-0.12, 0.15, 0.33), (0.22, 0.1, 0.3), (0.5, -0.07, 0.22),
             (0.05, -0.15, 0.26), (-0.3, -0.2, 0.2))  # fmt: skip
    cloud = np.maximum.reduce([_ellipse(size, cx, cy, r, r, soft=0.12) for cx, cy, r in puffs])
    x, y = _grid(size)
    veil = 0.75 + 0.25 * np.cos(5 * x + 2 * y) * np.cos(4 * y - x)
    return cloud * veil


def _black_hole(size: int) -> np.ndarray:
    outer = _ellipse(size, 0.0, 0.0, 0.6, 0.6, soft=0.2)
    inner = _ellipse(size, 0.0, 0.0, 0.34, 0.34, soft=0.03)
    return outer * (1.0 - inner)


def _constellation(size: int) -> np.ndarray:
    stars = [(-0.8, 0.35), (-0.45, 0.45), (-0.15, 0.3), (0.15, 0.15), (0.2, -0.3), (0.7, -0.35),
             (0.75, 0.1)]  # fmt: skip
    pen = _Pen(size)
    pen.line([*stars, stars[3]], 0.012)
    for p in stars:
        pen.dot(p, 0.045)
    return pen.layer()


_DRAW: dict[str, tuple[Callable[[int], np.ndarray], str]] = {
    "smooth_round": (
        _smooth_round,
        "schematic of a smooth round galaxy: a featureless circular glow",
    ),
    "in_between_round": (
        _in_between_round,
        "schematic of an in-between round smooth galaxy: a featureless oval glow",
    ),
    "cigar": (
        _cigar,
        "schematic of a cigar-shaped smooth galaxy: a long thin featureless ellipse",
    ),
    "edge_on_no_bulge": (
        _edge_on_no_bulge,
        "schematic of an edge-on disc galaxy without a bulge: a thin flat lens",
    ),
    "edge_on_bulge": (
        _edge_on_bulge,
        "schematic of an edge-on disc galaxy with a bulge: a thin lens with a central bulge",
    ),
    "barred_spiral": (
        _barred_spiral,
        "schematic of a barred spiral galaxy: a straight bar with two spiral arms",
    ),
    "tight_spiral": (
        lambda s: _spiral(s, 9.0, 0.12, 0.1),
        "schematic of an unbarred tight spiral galaxy: two tightly wound arms of several turns",
    ),
    "loose_spiral": (
        lambda s: _spiral(s, 32.0, 0.12, 0.1),
        "schematic of an unbarred loose spiral galaxy: two open, loosely wound arms",
    ),
    "spiral": (
        lambda s: _spiral(s, 18.0, 0.15, 0.15),
        "schematic of a spiral galaxy: a central bulge with two spiral arms",
    ),
    "merging": (
        _merging,
        "schematic of merging galaxies: two overlapping blobs with a tidal tail",
    ),
    "disturbed": (
        _disturbed,
        "schematic of a disturbed galaxy: an irregular lopsided blob",
    ),
    "planet": (_planet, "schematic of a planet: a half-lit disc with a ring"),
    "star": (_star, "schematic of a star: a bright point with diffraction spikes"),
    "asteroid": (_asteroid, "schematic of an asteroid: an irregular cratered rock outline"),
    "comet": (_comet, "schematic of a comet: a bright head with a widening tail"),
    "nebula": (_nebula, "schematic of a nebula: a diffuse cloud"),
    "black_hole": (_black_hole, "schematic of a black hole: a glowing ring around a dark centre"),
    "constellation": (_constellation, "schematic of a constellation: stars joined by lines"),
}

SYMBOL_KEYS: tuple[str, ...] = tuple(_DRAW)

# Class names of the built-in label sets (normalised) that are not symbol keys themselves.
_ALIASES: dict[str, str] = {
    "round smooth": "smooth_round",
    "smooth round": "smooth_round",
    "in between round smooth": "in_between_round",
    "cigar shaped smooth": "cigar",
    "smooth cigar": "cigar",
    "edge on without bulge": "edge_on_no_bulge",
    "edge on disk": "edge_on_no_bulge",
    "edge on with bulge": "edge_on_bulge",
    "unbarred tight spiral": "tight_spiral",
    "unbarred loose spiral": "loose_spiral",
    "unbarred spiral": "spiral",
    "galaxy": "spiral",
}


def _check_key(key: str) -> None:
    if key not in _DRAW:
        raise ValueError(f"unknown symbol key {key!r}; known keys: {', '.join(SYMBOL_KEYS)}")


def render_symbol(key: str, size: int = 224) -> np.ndarray:
    """Draw the symbol `key` as an RGB uint8 array (size, size, 3), white on black."""
    _check_key(key)
    if size < 8:
        raise ValueError(f"symbol size must be at least 8 pixels, got {size}")
    gray = np.clip(_DRAW[key][0](size), 0.0, 1.0)
    return np.repeat(np.round(gray * 255.0).astype(np.uint8)[..., None], 3, axis=2)


def symbol_text(key: str) -> str:
    """A short description of the symbol `key`."""
    _check_key(key)
    return _DRAW[key][1]


def symbol_key(class_name: str) -> str:
    """The symbol key for a class name of a built-in label set (or a symbol key itself)."""
    norm = re.sub(r"[\s_-]+", " ", class_name.strip().lower())
    key = _ALIASES.get(norm, norm.replace(" ", "_"))
    if key not in _DRAW:
        raise ValueError(
            f"no symbol for class {class_name!r}; known keys: {', '.join(SYMBOL_KEYS)}"
        )
    return key


def symbols_for_classes(class_names: list[str], size: int = 224) -> list[Symbol]:
    """One symbol per class name, in order (class names map to keys via `symbol_key`)."""
    keys = [symbol_key(name) for name in class_names]
    return [Symbol(key=k, text=symbol_text(k), image=render_symbol(k, size)) for k in keys]
