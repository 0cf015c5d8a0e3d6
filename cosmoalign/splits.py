"""Train/val/test assignment by a stable hash of the object id, stratified by label."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

SPLITS = ("train", "val", "test")


def stable_hash(object_id: str) -> int:
    """A platform- and run-independent 64-bit hash of an object id."""
    return int.from_bytes(hashlib.sha256(object_id.encode()).digest()[:8], "big")


def assign_splits(
    items: Iterable[tuple[str, int]], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> dict[str, str]:
    """Map each ``(object_id, label)`` to a split, exactly stratified per label.

    Within a label, objects are ordered by :func:`stable_hash` and cut at the cumulative fractions
    (rounded), so each class gets its share of val and test and the answer does not depend on the
    order the items arrive in. Splits are decided before any augmentation, on originals only.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(
            f"split fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    by_label: dict[int, list[str]] = defaultdict(list)
    for object_id, label in items:
        by_label[label].append(object_id)
    assignment: dict[str, str] = {}
    for ids in by_label.values():
        ids.sort(key=lambda oid: (stable_hash(oid), oid))
        n = len(ids)
        n_val = round(n * fractions[1])
        n_test = round(n * fractions[2])
        n_train = n - n_val - n_test
        for rank, object_id in enumerate(ids):
            if rank < n_train:
                assignment[object_id] = "train"
            elif rank < n_train + n_val:
                assignment[object_id] = "val"
            else:
                assignment[object_id] = "test"
    return assignment
