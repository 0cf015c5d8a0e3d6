"""The offline default captioner: measured morphology written as varied, true sentences in the
words astronomers use (elliptical, lenticular, spiral, edge-on disk, merging, irregular)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np

from cosmoalign.captions.base import CaptionerInfo, prompt_hash
from cosmoalign.captions.galaxy_type import (
    EDGE_ON,
    ELLIPTICAL,
    IRREGULAR,
    LENTICULAR,
    MERGING,
    SPIRAL,
    UNCERTAIN,
)
from cosmoalign.captions.measurement import (
    MEASUREMENT_VERSION,
    Measurement,
    measure_image,
    pixel_digest,
)
from cosmoalign.captions.vocabulary import label_words
from cosmoalign.parallel import pool_map, process_pool

# Phrasings per fact; each is formatted with the measured words. Editing them changes the hash.
TEMPLATES: dict[str, tuple[str, ...]] = {
    ELLIPTICAL: (
        "an elliptical galaxy, {shape} and smooth.",
        "a smooth elliptical galaxy with a {shape} outline.",
        "this is an elliptical: a {shape}, featureless galaxy with no arms or disc.",
        "a {shape}, smooth galaxy of elliptical type.",
    ),
    LENTICULAR: (
        "a lenticular galaxy, smooth and flattened, with no spiral arms.",
        "a smooth, elongated galaxy: a lenticular or flattened elliptical.",
        "an S0 lenticular galaxy with a smooth disc and no arms.",
    ),
    SPIRAL: (
        "a spiral galaxy.",
        "a spiral galaxy with visible spiral arms.",
        "this disc galaxy shows spiral arms.",
        "a face-on or inclined spiral galaxy with arms around its centre.",
    ),
    EDGE_ON: (
        "an edge-on disk galaxy {bulge}.",
        "a disk galaxy seen edge-on, {bulge}.",
        "a thin edge-on disk {bulge}.",
    ),
    MERGING: (
        "a merging galaxy pair.",
        "two interacting galaxies in the middle of a merger.",
        "a merger: the galaxy is interacting with a close companion.",
    ),
    IRREGULAR: (
        "a disturbed, irregular galaxy.",
        "an irregular galaxy with lopsided, asymmetric structure.",
    ),
    UNCERTAIN: (
        "a {shape} galaxy.",
        "a galaxy with a {shape} outline.",
    ),
    "size": (
        "it looks {size} in this cutout.",
        "the galaxy is {size}.",
    ),
    "orientation": (
        "its major axis runs {orientation}.",
        "it is aligned {orientation}.",
        "the light is stretched {orientation}.",
    ),
    "profile": (
        "the light is {concentration}.",
        "its profile is {concentration}.",
        "the brightness profile looks {concentration}.",
    ),
    "colour": (
        "its colour is {colour}.",
        "the galaxy is {colour} in colour.",
        "the light is {colour}.",
    ),
    "companion": (
        "a companion galaxy lies close by.",
        "it has a close neighbouring galaxy.",
    ),
    "empty": (
        "no clear galaxy is detected in this image.",
        "the image shows no significant source.",
        "only background noise is visible.",
    ),
}


class MorphologyCaptioner:
    """Describes each galaxy from its measurements; the phrasing is chosen by a hash of the
    digest of the image's pixels (:func:`~cosmoalign.captions.measurement.pixel_digest`) and
    the seed.

    Lake rows are phrased from the ``measurements`` table (:meth:`caption_measurements`, no
    pixels); :meth:`caption` measures images first, inside their galaxy-centred frame at the
    framing working size. A row whose label states a type (see
    :mod:`cosmoalign.captions.vocabulary`) gets no measured type sentence, since the label text
    already says it; a label that rules a type out demotes it.
    """

    def __init__(self, seed: int = 0, workers: int = 1) -> None:
        self.seed = seed
        self.workers = workers
        self._pool: Executor | None = None
        templates = (t for group in TEMPLATES.values() for t in group)
        self.info = CaptionerInfo(
            "morphology",
            "3.0",
            prompt_hash(*templates, f"seed={seed}", f"measurement={MEASUREMENT_VERSION}"),
        )

    def caption(
        self, images: Sequence[np.ndarray], labels: Sequence[str | None] | None = None
    ) -> list[str]:
        """One description per uint8 RGB image (label text is joined on by the caller), measured
        on ``workers`` processes (started on first use, stopped by :meth:`close`)."""
        labels = _labels_for(images, labels)
        if self.workers > 1 and self._pool is None:
            self._pool = process_pool(self.workers)
        measured = pool_map(self._pool, measure_image, images)
        return [
            self.phrase(m, pixel_digest(image), label)
            for image, (_, m), label in zip(images, measured, labels, strict=True)
        ]

    def caption_measurements(
        self, rows: Sequence[dict], labels: Sequence[str | None] | None = None
    ) -> list[str]:
        """One description per ``measurements`` table row, phrased from its numbers alone."""
        labels = _labels_for(rows, labels)
        return [
            self.phrase(Measurement.from_row(row), row["pixels_sha256"], label)
            for row, label in zip(rows, labels, strict=True)
        ]

    def phrase(self, m: Measurement, digest: str, label: str | None = None) -> str:
        """The sentences for one measured galaxy; ``digest`` (of its pixels) and the seed pick
        the phrasings."""
        choices = iter(hashlib.sha256(f"{digest}:{self.seed}".encode()).digest())
        text = " ".join(
            templates[next(choices) % len(templates)].format(**words)
            for templates, words in _facts(m, label)
        )
        return re.sub(r"\ba (?=[aeiou])", "an ", text)

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _labels_for(items: Sequence, labels: Sequence[str | None] | None) -> Sequence[str | None]:
    if labels is None:
        return [None] * len(items)
    if len(labels) != len(items):
        raise ValueError(f"{len(items)} images or rows but {len(labels)} labels")
    return labels


def _facts(m: Measurement, label: str | None) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    """Template groups with the words they need, only for what was measured."""
    if not m.detected:
        return [(TEMPLATES["empty"], {})]
    words = label_words(label) if label else None
    kind = m.galaxy_type
    if words is not None and (words.kind is not None or kind in words.excludes):
        kind = None if words.kind is not None else UNCERTAIN
    shape = shape_word(m.ellipticity)
    facts = []
    if kind is not None:
        bulge = "with a central bulge" if m.bulge else "with no obvious bulge"
        facts.append((TEMPLATES[kind], {"shape": shape, "bulge": bulge}))
    facts.append((TEMPLATES["size"], {"size": size_word(m.frame_share)}))
    if m.ellipticity >= 0.2 and kind != EDGE_ON:
        facts.append((TEMPLATES["orientation"], {"orientation": orientation(m.position_angle)}))
    facts += [
        (TEMPLATES["profile"], {"concentration": concentration_word(m.concentration)}),
        (TEMPLATES["colour"], {"colour": colour_word(m.colour)}),
    ]
    if m.companion and kind != MERGING:
        facts.append((TEMPLATES["companion"], {}))
    return facts


def size_word(frame_share: float) -> str:
    """Compact / medium-sized / extended, by how much of the cutout the galaxy's frame spans."""
    if frame_share < 0.4:
        return "compact"
    return "extended" if frame_share > 0.75 else "medium-sized"


def shape_word(ellipticity: float) -> str:
    """Round / slightly elongated / elongated / highly elongated, cigar-like."""
    if ellipticity < 0.15:
        return "round"
    if ellipticity < 0.3:
        return "slightly elongated"
    return "elongated" if ellipticity < 0.55 else "highly elongated, cigar-like"


def orientation(theta: float) -> str:
    """Orientation words for a major axis at ``theta`` radians from +x towards +y (rows down)."""
    degrees = np.degrees(theta) % 180
    if degrees < 22.5 or degrees >= 157.5:
        return "horizontally"
    if 67.5 <= degrees < 112.5:
        return "vertically"
    # +y is down in the image, so a positive angle from +x runs from upper left to lower right
    return "from upper left to lower right" if degrees < 90 else "from lower left to upper right"


def concentration_word(c: float) -> str:
    """Concentrated / moderately concentrated / diffuse, by C = 5 log10(r80 / r20)."""
    if c >= 3.3:
        return "centrally concentrated"
    return "moderately concentrated" if c >= 2.6 else "diffuse, with no strong central peak"


def colour_word(ratio: float) -> str:
    """Red / yellowish / blue, by the red-to-blue channel flux ratio."""
    if ratio >= 0.7:
        return "red"
    return "yellowish white" if ratio >= 0.38 else "blue"
