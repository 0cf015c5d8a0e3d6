"""The offline default captioner: measured morphology written as varied, true sentences in the
words astronomers use (elliptical, lenticular, spiral, edge-on disk, merging, irregular)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from concurrent.futures import Executor
from functools import partial

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
    classify,
)
from cosmoalign.captions.measure import Segmentation, measure_segmentation
from cosmoalign.captions.vocabulary import label_words
from cosmoalign.framing import framed_segmentation
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
    """Describes each galaxy from its measurements; the phrasing is chosen by a hash.

    Images are measured inside their galaxy-centred frame at the framing working size. A row
    whose label states a type (see :mod:`cosmoalign.captions.vocabulary`) gets no measured type
    sentence, since the label text already says it; a label that rules a type out demotes it.
    """

    def __init__(self, seed: int = 0, workers: int = 1) -> None:
        self.seed = seed
        self.workers = workers
        self._pool: Executor | None = None
        templates = (t for group in TEMPLATES.values() for t in group)
        self.info = CaptionerInfo("morphology", "2.0", prompt_hash(*templates, f"seed={seed}"))

    def caption(
        self, images: Sequence[np.ndarray], labels: Sequence[str | None] | None = None
    ) -> list[str]:
        """One description per uint8 RGB image (label text is joined on by the caller), measured
        on ``workers`` processes (started on first use, stopped by :meth:`close`)."""
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if self.workers > 1 and self._pool is None:
            self._pool = process_pool(self.workers)
        jobs = zip(images, labels if labels is not None else [None] * len(images), strict=True)
        return pool_map(self._pool, partial(_describe, self.seed), jobs)

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def describe(self, image: np.ndarray, label: str | None = None) -> str:
        """The sentences for one image, in its own galaxy-centred frame."""
        digest = hashlib.sha256(np.ascontiguousarray(image).tobytes())
        digest.update(str(self.seed).encode())
        choices = iter(digest.digest())
        frame, seg = framed_segmentation(image)
        share = (frame[2] - frame[0]) / min(image.shape[:2])
        text = " ".join(
            templates[next(choices) % len(templates)].format(**words)
            for templates, words in _facts(seg, label, share)
        )
        return re.sub(r"\ba (?=[aeiou])", "an ", text)


def _describe(seed: int, job: tuple[np.ndarray, str | None]) -> str:
    return MorphologyCaptioner(seed).describe(*job)


def _facts(
    seg: Segmentation, label: str | None, frame_share: float
) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    """Template groups with the words they need, only for what was measured; ``frame_share`` is
    the galaxy frame's side as a fraction of the cutout's."""
    m = measure_segmentation(seg)
    if not m.detected:
        return [(TEMPLATES["empty"], {})]
    galaxy = classify(seg, m)
    words = label_words(label) if label else None
    kind = galaxy.kind
    if words is not None and (words.kind is not None or kind in words.excludes):
        kind = None if words.kind is not None else UNCERTAIN
    shape = shape_word(m.ellipticity)
    facts = []
    if kind is not None:
        bulge = "with a central bulge" if galaxy.bulge else "with no obvious bulge"
        facts.append((TEMPLATES[kind], {"shape": shape, "bulge": bulge}))
    facts.append((TEMPLATES["size"], {"size": size_word(frame_share)}))
    if m.ellipticity >= 0.2 and kind != EDGE_ON:
        facts.append((TEMPLATES["orientation"], {"orientation": orientation(m.position_angle)}))
    facts += [
        (TEMPLATES["profile"], {"concentration": concentration_word(m.concentration)}),
        (TEMPLATES["colour"], {"colour": colour_word(m.colour)}),
    ]
    if galaxy.companion and kind != MERGING:
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
