import itertools

import numpy as np
import pytest

from cosmoalign.labels import GALAXY10_DECALS_CLASSES, GALAXY_MNIST_CLASSES, SPACENET_CLASSES
from cosmoalign.symbol_drawing import (
    SYMBOL_KEYS,
    Symbol,
    render_symbol,
    symbol_key,
    symbol_text,
    symbols_for_classes,
)

SIZE = 96
LABEL_SETS = [GALAXY10_DECALS_CLASSES, GALAXY_MNIST_CLASSES, SPACENET_CLASSES]


def _gray(key: str, size: int = SIZE) -> np.ndarray:
    return render_symbol(key, size)[..., 0].astype(np.float64) / 255.0


def _axes(img: np.ndarray) -> tuple[float, float]:
    """Major and minor standard deviations (pixels) of the intensity distribution."""
    ys, xs = np.indices(img.shape)
    w = img / img.sum()
    mx, my = (w * xs).sum(), (w * ys).sum()
    cov = np.array(
        [
            [(w * (xs - mx) ** 2).sum(), (w * (xs - mx) * (ys - my)).sum()],
            [(w * (xs - mx) * (ys - my)).sum(), (w * (ys - my) ** 2).sum()],
        ]
    )
    lo, hi = np.linalg.eigvalsh(cov)
    return float(np.sqrt(hi)), float(np.sqrt(lo))


def _ellipticity(key: str) -> float:
    major, minor = _axes(_gray(key))
    return 1.0 - minor / major


def _ray_crossings(key: str, size: int = 192) -> float:
    """Mean number of arm crossings along radial rays from r=0.25 to r=0.9 (unit radius)."""
    img = _gray(key, size)
    r = np.linspace(0.25, 0.9, 400)
    counts = []
    for t in np.linspace(0.0, 2 * np.pi, 16, endpoint=False):
        col = np.clip(((r * np.cos(t) + 1) / 2 * size).astype(int), 0, size - 1)
        row = np.clip(((1 - r * np.sin(t)) / 2 * size).astype(int), 0, size - 1)
        on = img[row, col] > 0.5
        counts.append(np.count_nonzero(on[1:] & ~on[:-1]))
    return float(np.mean(counts))


@pytest.mark.parametrize("classes", LABEL_SETS)
def test_every_class_gets_a_distinct_symbol(classes: list[str]) -> None:
    symbols = symbols_for_classes(classes, size=SIZE)
    assert [type(s) for s in symbols] == [Symbol] * len(classes)
    for s in symbols:
        assert s.image.shape == (SIZE, SIZE, 3) and s.image.dtype == np.uint8
        assert s.text.startswith("schematic of") and s.image.max() == 255
    for a, b in itertools.combinations(symbols, 2):
        diff = np.abs(a.image.astype(int) - b.image.astype(int)).mean()
        assert diff > 8.0, (a.key, b.key, diff)


def test_all_keys_render_with_text() -> None:
    for key in SYMBOL_KEYS:
        assert render_symbol(key, 32).shape == (32, 32, 3)
        assert symbol_text(key)


def test_elongation_order() -> None:
    assert _ellipticity("smooth_round") < 0.02
    assert _ellipticity("smooth_round") < _ellipticity("in_between_round") < _ellipticity("cigar")
    thin = _axes(_gray("edge_on_no_bulge"))[1]
    assert thin < _axes(_gray("in_between_round"))[1] / 2
    assert thin < _axes(_gray("edge_on_bulge"))[1]


def test_tight_spiral_winds_more_than_loose() -> None:
    tight, loose = _ray_crossings("tight_spiral"), _ray_crossings("loose_spiral")
    assert tight >= 2.0 and loose <= 1.0, (tight, loose)


def test_deterministic() -> None:
    for key in SYMBOL_KEYS:
        assert np.array_equal(render_symbol(key, 64), render_symbol(key, 64))


def test_class_name_normalisation() -> None:
    assert symbol_key("Edge-On with Bulge") == "edge_on_bulge"
    assert symbol_key("black_hole") == "black_hole"
    assert symbol_key("galaxy") == symbol_key("unbarred spiral") == "spiral"


def test_unknown_class_and_key_raise() -> None:
    with pytest.raises(ValueError, match=r"'quasar'.*smooth_round"):
        symbols_for_classes(["star", "quasar"])
    with pytest.raises(ValueError, match="unknown symbol key"):
        render_symbol("quasar")
    with pytest.raises(ValueError, match="unknown symbol key"):
        symbol_text("quasar")
