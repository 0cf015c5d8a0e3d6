"""The offline default captioner: measured morphology written as varied, true sentences."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from cosmoalign.captions.base import CaptionerInfo, prompt_hash
from cosmoalign.captions.measure import Morphology, measure_galaxy

# Phrasings per fact; each is formatted with the measured words. Editing them changes the hash.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "shape": (
        "a {size}, {shape} galaxy.",
        "the galaxy looks {shape} and {size}.",
        "a {shape} galaxy that is {size} in this cutout.",
        "this {size} galaxy has a {shape} outline.",
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
    "symmetry": (
        "it appears {symmetry}.",
        "the structure is {symmetry}.",
        "under rotation it looks {symmetry}.",
    ),
    "colour": (
        "its colour is {colour}.",
        "the galaxy is {colour} in colour.",
        "the light is {colour}.",
    ),
    "field": (
        "it is {field}.",
        "the galaxy is {field}.",
        "in the field it is {field}.",
    ),
    "empty": (
        "no clear galaxy is detected in this image.",
        "the image shows no significant source.",
        "only background noise is visible.",
    ),
}


class MorphologyCaptioner:
    """Describes each galaxy from :func:`measure_galaxy`; the phrasing is chosen by a hash."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        templates = (t for group in TEMPLATES.values() for t in group)
        self.info = CaptionerInfo("morphology", "1.0", prompt_hash(*templates, f"seed={seed}"))

    def caption(
        self, images: Sequence[np.ndarray], labels: Sequence[str | None] | None = None
    ) -> list[str]:
        """One description per uint8 RGB image (label text is joined on by the caller)."""
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        return [self.describe(image) for image in images]

    def describe(self, image: np.ndarray) -> str:
        """The sentences for one image (no label)."""
        digest = hashlib.sha256(np.ascontiguousarray(image).tobytes())
        digest.update(str(self.seed).encode())
        choices = iter(digest.digest())
        text = " ".join(
            templates[next(choices) % len(templates)].format(**words)
            for templates, words in _facts(measure_galaxy(image))
        )
        return re.sub(r"\ba (?=[aeiou])", "an ", text)


def _facts(m: Morphology) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    """Template groups with the words they need, only for what was measured."""
    if not m.detected:
        return [(TEMPLATES["empty"], {})]
    facts = [(TEMPLATES["shape"], {"size": size_word(m), "shape": shape_word(m.ellipticity)})]
    if m.ellipticity >= 0.2:
        facts.append((TEMPLATES["orientation"], {"orientation": orientation(m.position_angle)}))
    facts += [
        (TEMPLATES["profile"], {"concentration": concentration_word(m.concentration)}),
        (TEMPLATES["symmetry"], {"symmetry": symmetry_word(m.asymmetry)}),
        (TEMPLATES["colour"], {"colour": colour_word(m.colour)}),
        (TEMPLATES["field"], {"field": field_word(m.n_neighbours)}),
    ]
    return facts


def size_word(m: Morphology) -> str:
    """Compact / medium-sized / extended, by half-light radius relative to the cutout width."""
    fraction = m.r_half / m.image_size[0]
    if fraction < 0.04:
        return "compact"
    return "extended" if fraction > 0.1 else "medium-sized"


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


def symmetry_word(a: float) -> str:
    """Symmetric / mildly asymmetric / disturbed, by the rotational asymmetry."""
    if a < 0.12:
        return "smooth and symmetric"
    return "mildly asymmetric" if a < 0.3 else "disturbed and asymmetric"


def colour_word(ratio: float) -> str:
    """Red / yellowish / blue, by the red-to-blue channel flux ratio."""
    if ratio >= 0.7:
        return "red"
    return "yellowish white" if ratio >= 0.38 else "blue"


def field_word(neighbours: int) -> str:
    """Isolated, or the number of other bright sources in the field."""
    if neighbours == 0:
        return "isolated, with no other bright source nearby"
    return f"accompanied by {neighbours} other bright source{'s' if neighbours > 1 else ''}"
