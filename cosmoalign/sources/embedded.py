"""The offline default source: real SDSS galaxies, procedural Galaxy10-class galaxies and real
HST cutouts.

The real SDSS cutouts (shipped in the package, unlabelled) teach the caption recipes what survey
galaxies look like; the procedural galaxies are the labelled complement, the only source of
mergers, bars and edge-on discs with known truth. Needs no network and no files beyond the
installed packages. Every procedural galaxy is seeded from
``(seed, class, index)`` alone, so an item's pixels do not depend on how many others are made.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from cosmoalign.imaging import npy_bytes
from cosmoalign.labels import GALAXY10_DECALS_CLASSES
from cosmoalign.sources.base import RawItem
from cosmoalign.sources.hst import HDF_URI, hst_cutouts
from cosmoalign.sources.procedural import BANDS, render_galaxy, sample_params
from cosmoalign.sources.sdss_sample import sdss_sample_items

# Images per class in Galaxy10 DECaLS (17,736 in all): the embedded set keeps its imbalance so
# that FLARE-style balancing has real work to do on the offline default.
GALAXY10_CLASS_COUNTS = (1081, 1853, 2645, 2027, 334, 2043, 1829, 2628, 1423, 1873)

# DECaLS pixel noise is about 0.006 nanomaggies; renders are in sky-sigma units, so this puts them
# on the calibrated grz scale the curation stage renders with the Legacy Survey weights.
NANOMAGGIES_PER_SKY_SIGMA = 0.006


def class_counts(total: int, min_per_class: int) -> list[int]:
    """Split ``total`` galaxies across classes in Galaxy10 DECaLS proportions."""
    whole = sum(GALAXY10_CLASS_COUNTS)
    return [max(min_per_class, round(total * n / whole)) for n in GALAXY10_CLASS_COUNTS]


class EmbeddedSource:
    """Labelled procedural g, r, z galaxies in Galaxy10 proportions, then HST cutouts, then the
    shipped real SDSS cutouts (unlabelled).

    Procedural items come interleaved by class (index 0 of every class, then index 1, ...) until a
    class has its count.
    """

    name = "embedded"

    def __init__(
        self,
        total: int = 800,
        size: int = 128,
        seed: int = 0,
        include_hst: bool = True,
        max_hst: int = 200,
        min_per_class: int = 20,
        max_real: int = 2000,
    ) -> None:
        if min(total, max_hst, min_per_class, max_real) < 0:
            raise ValueError("total, max_hst, min_per_class and max_real must be >= 0")
        if size < 16:
            raise ValueError(f"size must be >= 16 pixels, got {size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.counts = class_counts(total, min_per_class)
        self.size = size
        self.seed = seed
        self.include_hst = include_hst
        self.max_hst = max_hst
        self.max_real = max_real

    def class_names(self) -> list[str]:
        """The Galaxy10 DECaLS class names, indexed by label id."""
        return list(GALAXY10_DECALS_CLASSES)

    def iter_items(self) -> Iterator[RawItem]:
        """Yield the procedural galaxies, then (if enabled) the HST cutouts, one at a time."""
        for index in range(max(self.counts)):
            for class_id, class_name in enumerate(GALAXY10_DECALS_CLASSES):
                if index < self.counts[class_id]:
                    yield self._procedural_item(class_id, class_name, index)
        if self.include_hst:
            for cutout in hst_cutouts(self.size, self.max_hst):
                yield RawItem(
                    object_id=cutout.object_id,
                    source=self.name,
                    payload=npy_bytes(cutout.image),
                    payload_format="npy",
                    source_file=f"{HDF_URI}#x={cutout.x},y={cutout.y}",
                    bands="rgb",
                )
        yield from sdss_sample_items(self.name, self.max_real)

    def _procedural_item(self, class_id: int, class_name: str, index: int) -> RawItem:
        rng = np.random.default_rng([self.seed, class_id, index])
        image = render_galaxy(sample_params(class_id, self.size, rng), self.size, rng)
        image *= NANOMAGGIES_PER_SKY_SIGMA
        return RawItem(
            object_id=f"proc-s{self.seed}-c{class_id}-{index:05d}",
            source=self.name,
            payload=npy_bytes(image),
            payload_format="npy",
            source_file=f"procedural://seed={self.seed}/class={class_id}/index={index}",
            label=class_id,
            label_name=class_name,
            bands=BANDS,
        )
