"""FLARE-style class balancing of the training split (CosmoCLIP, Imam et al. 2024).

Every labelled class of the train split is brought to one target count: majority classes keep
the rows with the smallest stable hash of their object id (so reruns, and reruns with more data,
keep the same rows), minority classes gain augmented copies of their own rows. Only train rows
are touched and only train rows are returned, so no copy of a validation or test object can
reach training.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cosmoalign.augment import Augmenter, SkyAugmenter
from cosmoalign.framing import measure_frame
from cosmoalign.imaging import decode_png, encode_png

REQUIRED_COLUMNS = (
    "object_id",
    "split",
    "label",
    "label_name",
    "image_png",
    "width",
    "height",
    "frame",
    "provenance",
)


@dataclass(frozen=True)
class BalanceConfig:
    """``target_per_class`` defaults to the median class count (rounded up); no class grows
    beyond ``max_upsample_factor`` times its original size."""

    target_per_class: int | None = None
    seed: int = 0
    max_upsample_factor: float = 20.0

    def __post_init__(self) -> None:
        if self.target_per_class is not None and self.target_per_class < 1:
            raise ValueError(f"target_per_class must be >= 1, got {self.target_per_class}")
        if self.max_upsample_factor < 1:
            raise ValueError(f"max_upsample_factor must be >= 1, got {self.max_upsample_factor}")


@dataclass(frozen=True)
class BalanceReport:
    """What balancing did, per class name (label id where a row has no name)."""

    target: int
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    n_augmented: int
    n_dropped: int
    n_unlabelled: int
    augmenter: str


def stable_rank(object_id: str, seed: int = 0) -> int:
    """A 64-bit rank of ``object_id`` for ``seed``, identical on every run and machine."""
    message = f"{seed}:{object_id}".encode()
    digest = hashlib.blake2b(message, digest_size=8, person=b"cosmoalign-flare").digest()
    return int.from_bytes(digest, "big")


_AUGMENTED = "~aug"


def augmented_id(object_id: str, k: int) -> str:
    """The object id of the ``k``-th (1-based) augmented copy of ``object_id``."""
    return f"{object_id}{_AUGMENTED}{k}"


def original_id(object_id: str) -> str:
    """The curated object a balanced row shows: itself, or the original of an augmented copy."""
    return object_id.split(_AUGMENTED, 1)[0]


def balance_train_split(
    images: pd.DataFrame,
    augmenter: Augmenter | None = None,
    config: BalanceConfig | None = None,
) -> tuple[pd.DataFrame, BalanceReport]:
    """Return the balanced training set (train rows only) and a report.

    Unlabelled train rows (label < 0) pass through unchanged; other columns are carried over to
    augmented copies, which get ids ``<id>~aug<k>`` and provenance ``augmented-from:<id>``. Each
    copy draws from its own generator seeded by (seed, source id, k), so the output is identical
    for identical input. Only the images that are augmented are decoded.
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in images.columns]
    if missing:
        raise ValueError(f"image table lacks column(s) {missing}")
    cfg = config or BalanceConfig()
    augmenter = augmenter or SkyAugmenter()
    train = images[images["split"] == "train"].reset_index(drop=True)
    labelled = train[train["label"] >= 0]
    groups = dict(tuple(labelled.groupby("label", sort=True)))
    counts_before = {label: len(group) for label, group in groups.items()}
    target = cfg.target_per_class or (
        math.ceil(statistics.median(counts_before.values())) if counts_before else 0
    )

    dropped: list[int] = []
    copies: list[pd.DataFrame] = []
    counts_after: dict[int, int] = {}
    for label, group in groups.items():
        ranks = [stable_rank(object_id, cfg.seed) for object_id in group["object_id"]]
        ranked = group.iloc[sorted(range(len(group)), key=ranks.__getitem__)]
        wanted = min(target, max(len(group), math.floor(len(group) * cfg.max_upsample_factor)))
        dropped.extend(ranked.index[wanted:])
        if wanted > len(group):
            copies.append(_augmented_copies(ranked, wanted - len(group), augmenter, cfg.seed))
        counts_after[label] = wanted

    kept = train.drop(index=dropped)
    balanced = pd.concat([kept, *copies], ignore_index=True)
    names = {label: _class_name(label, group) for label, group in groups.items()}
    report = BalanceReport(
        target=target,
        counts_before={names[label]: n for label, n in counts_before.items()},
        counts_after={names[label]: n for label, n in counts_after.items()},
        n_augmented=sum(len(c) for c in copies),
        n_dropped=len(dropped),
        n_unlabelled=len(train) - len(labelled),
        augmenter=augmenter.name,
    )
    return balanced, report


def _augmented_copies(
    ranked: pd.DataFrame, n_copies: int, augmenter: Augmenter, seed: int
) -> pd.DataFrame:
    """``n_copies`` augmented rows, cycling over ``ranked`` (smallest rank first)."""
    positions = [j % len(ranked) for j in range(n_copies)]
    copies = ranked.iloc[positions].copy()
    ids, pngs, widths, heights, frames = [], [], [], [], []
    for j, source_id in enumerate(copies["object_id"]):
        k = j // len(ranked) + 1
        copy_id = augmented_id(source_id, k)
        rng = np.random.default_rng(stable_rank(copy_id, seed))
        pixels = augmenter.augment(decode_png(copies["image_png"].iat[j]), rng)
        ids.append(copy_id)
        pngs.append(encode_png(pixels))
        heights.append(pixels.shape[0])
        widths.append(pixels.shape[1])
        frames.append(list(measure_frame(pixels)))
    copies["provenance"] = [f"augmented-from:{source_id}" for source_id in copies["object_id"]]
    copies["object_id"] = ids
    copies["image_png"] = pngs
    copies["width"] = widths
    copies["height"] = heights
    copies["frame"] = frames
    return copies


def _class_name(label: int, group: pd.DataFrame) -> str:
    names = group["label_name"].dropna()
    return str(names.iat[0]) if len(names) else str(label)
