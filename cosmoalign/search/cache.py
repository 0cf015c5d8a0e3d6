"""A cache of image embeddings keyed by file content and model, stored as Lance datasets.

One dataset per model identity and framing (``<cache dir>/embeddings/<identity>-<framing>.lance``,
identity from :func:`~cosmoalign.models.fingerprint.model_identity`: the weights' sha256 and the
image preprocessing), with rows ``sha256`` (of the file's bytes) and ``vector``. A file is
embedded once whatever its name or folder; a changed file has a new hash and is embedded again.
New rows are appended as a new Lance version, so concurrent runs never corrupt the cache.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import lance
import numpy as np
import pyarrow as pa

from cosmoalign.search.index import vector_array


def default_cache_dir() -> Path:
    """``$COSMOALIGN_CACHE``, else ``~/.cache/cosmoalign``."""
    return Path(os.environ.get("COSMOALIGN_CACHE") or Path.home() / ".cache" / "cosmoalign")


class EmbeddingCache:
    """Embeddings of file contents under one model and framing."""

    def __init__(self, cache_dir: str | os.PathLike, identity: str, framing: bool) -> None:
        view = "framed" if framing else "field"
        self.path = Path(cache_dir) / "embeddings" / f"{identity[:32]}-{view}.lance"

    def lookup(self, digests: set[str]) -> dict[str, np.ndarray]:
        """The cached vector of each of ``digests`` that the cache holds."""
        if not digests or not self.path.exists():
            return {}
        table = lance.dataset(str(self.path)).to_table(columns=["sha256", "vector"])
        found: dict[str, np.ndarray] = {}
        dim = table.schema.field("vector").type.list_size
        flat = table["vector"].combine_chunks().values.to_numpy(zero_copy_only=False)
        vectors = flat.reshape(-1, dim)
        for row, digest in enumerate(table["sha256"].to_pylist()):
            if digest in digests:
                found[digest] = vectors[row].astype(np.float32)
        return found

    def add(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Append vectors keyed by content sha256."""
        if not vectors:
            return
        table = pa.table(
            {
                "sha256": pa.array(list(vectors), pa.string()),
                "vector": vector_array(np.stack(list(vectors.values()))),
            }
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lance.write_dataset(table, str(self.path), mode="append")  # creates it the first time
