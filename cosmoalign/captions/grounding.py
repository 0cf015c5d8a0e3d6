"""Grounding a multimodal LLM's feature list in the segmentation's boxes (GRAIN).

The MLLM names what it sees ("a prominent bar", "two tight spiral arms") but gives no boxes;
segmentation finds boxes but only rule-based words. Each named feature is matched by keyword to
the segmented part it describes and takes over that box; a feature with no segmented part (a
ring, a tidal tail) is anchored on the whole galaxy with half the score.
"""

from __future__ import annotations

import re

from cosmoalign.captions.base import Region

WHOLE_GALAXY = "the whole galaxy"
_KEYWORDS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"\bbulge|\bcore\b|\bnucle|\bcent(re|er|ral)"), ("bulge", "core")),
    (re.compile(r"\bdis[ck]|\benvelope|\bhalo|\bouter"), ("disc", "envelope")),
    (re.compile(r"\bbar(red)?\b"), ("bar",)),
    (re.compile(r"\barms?\b|\bspiral"), ("spiral arms", "structure")),
    (re.compile(r"\bcompanion|\bneighbou?r|\bmerg|\binteract"), ("companion",)),
    (re.compile(r"\bstars?\b|\bforeground"), ("star",)),
]


def ground_features(regions: list[Region], features: list[str]) -> list[Region]:
    """The segmentation regions with each MLLM feature grounded in the box it names.

    Unmatched segmentation regions keep their rule-based text; every feature appears once.
    """
    if not regions:
        return []
    grounded = list(regions)
    taken: set[int] = set()
    whole = next((r for r in regions if r.text == WHOLE_GALAXY), regions[0])
    for feature in features:
        index = _match(regions, feature, taken)
        if index is None:
            grounded.append(Region(whole.box, feature, whole.score / 2))
        else:
            taken.add(index)
            grounded[index] = Region(regions[index].box, feature, regions[index].score)
    return grounded


def _match(regions: list[Region], feature: str, taken: set[int]) -> int | None:
    """The first region not yet grounded whose rule-based kind the feature names."""
    for pattern, region_words in _KEYWORDS:
        if not pattern.search(feature):
            continue
        for index, region in enumerate(regions):
            if index not in taken and any(word in region.text for word in region_words):
                return index
    return None
