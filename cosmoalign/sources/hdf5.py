"""Chunked reading of HDF5 files whose datasets are parallel per-row arrays."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np


def iter_rows(
    path: Path, keys: Sequence[str], chunk_size: int = 256
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield ``(index, {key: row})`` for every row, reading ``chunk_size`` rows per key at a time.

    Only one chunk of each dataset is ever in memory. Raises ``ValueError`` if a key is missing or
    the datasets differ in length.
    """
    import h5py

    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    with h5py.File(path, "r") as handle:
        missing = [key for key in keys if key not in handle]
        if missing:
            raise ValueError(f"{path}: no dataset(s) {missing}; it has {sorted(handle.keys())}")
        lengths = {key: handle[key].shape[0] for key in keys}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"{path}: datasets differ in length: {lengths}")
        total = lengths[keys[0]]
        for start in range(0, total, chunk_size):
            chunk = {key: handle[key][start : start + chunk_size] for key in keys}
            for offset in range(min(chunk_size, total - start)):
                yield start + offset, {key: values[offset] for key, values in chunk.items()}


def check_label(label: int, class_names: Sequence[str], where: str) -> int:
    """``label`` if it indexes ``class_names``, else ``ValueError`` naming ``where``."""
    if not 0 <= label < len(class_names):
        raise ValueError(f"{where}: label {label} is outside 0..{len(class_names) - 1}")
    return label
