"""Dataset label names in the words astronomers type, and the galaxy type each one states.

Label sets name classes tersely ("round smooth", "non_spirals"); captions and zero-shot prompts
read better, and transfer across datasets, in plain morphological words.
"""

from __future__ import annotations

from dataclasses import dataclass

from cosmoalign.captions.galaxy_type import (
    EDGE_ON,
    ELLIPTICAL,
    IRREGULAR,
    LENTICULAR,
    MERGING,
    SPIRAL,
)


@dataclass(frozen=True)
class LabelWords:
    """How a label reads in a caption, the type it asserts and the types it rules out."""

    phrase: str
    kind: str | None = None
    excludes: tuple[str, ...] = ()


LABEL_WORDS: dict[str, LabelWords] = {
    # Galaxy10 DECaLS
    "disturbed": LabelWords("disturbed, irregular galaxy", IRREGULAR),
    "merging": LabelWords("merging galaxy, interacting with a companion", MERGING),
    "round smooth": LabelWords("round, smooth elliptical galaxy", ELLIPTICAL),
    "in-between round smooth": LabelWords(
        "smooth elliptical galaxy, slightly elongated", ELLIPTICAL
    ),
    "cigar shaped smooth": LabelWords("cigar-shaped smooth galaxy, a lenticular", LENTICULAR),
    "barred spiral": LabelWords("barred spiral galaxy", SPIRAL),
    "unbarred tight spiral": LabelWords("spiral galaxy with tightly wound arms and no bar", SPIRAL),
    "unbarred loose spiral": LabelWords("spiral galaxy with loosely wound arms and no bar", SPIRAL),
    "edge-on without bulge": LabelWords("edge-on disk galaxy without a bulge", EDGE_ON),
    "edge-on with bulge": LabelWords("edge-on disk galaxy with a central bulge", EDGE_ON),
    # GalaxyMNIST
    "smooth round": LabelWords("round, smooth elliptical galaxy", ELLIPTICAL),
    "smooth cigar": LabelWords("cigar-shaped smooth galaxy, a lenticular", LENTICULAR),
    "edge-on disk": LabelWords("edge-on disk galaxy", EDGE_ON),
    "unbarred spiral": LabelWords("spiral galaxy without a bar", SPIRAL),
    # gz-kaggle-spirals folders
    "spirals": LabelWords("spiral galaxy", SPIRAL),
    "non_spirals": LabelWords("galaxy without spiral arms", None, (SPIRAL,)),
}


def label_words(label_name: str) -> LabelWords:
    """The words for a label; unknown labels read as their name with underscores as spaces."""
    known = LABEL_WORDS.get(label_name)
    if known is not None:
        return known
    text = label_name.replace("_", " ").strip()
    return LabelWords(text if "galax" in text else f"{text} galaxy")
