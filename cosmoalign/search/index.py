"""Image embeddings of a lake partition as a Lance dataset with a vector index.

The ``embeddings`` table of the lake (``<lake root>/embeddings/<partition>.lance``, written by
:class:`~cosmoalign.lake.Lake` like every table) has columns ``object_id``, ``label_name``,
``split``, ``thumbnail`` (a small JPEG of the framed galaxy, for galleries) and ``vector`` (the
L2-normalised image embedding). The model that made the vectors is recorded in the schema
metadata, so a query from another model is refused instead of silently meaningless.

Partitions of at least :data:`MIN_INDEXED_ROWS` rows get an IVF-PQ index on ``vector`` (cosine
metric); queries probe :data:`NPROBES` lists and re-rank ``refine_factor`` times ``k``
candidates on the full vectors. Smaller partitions are scanned exactly. The index is built on
the version the lake just committed and is itself one more commit, so readers see the table
unindexed (exact, slower) or indexed, never half an index.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import lance
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cosmoalign.lake import Lake
from cosmoalign.schema import EMBEDDINGS_TABLE

MIN_INDEXED_ROWS = 1024
"""Below this many rows an exact scan is as fast as an index, and IVF-PQ has too little to
train its codebooks on."""
NPROBES = 32
REFINE_FACTOR = 10
METRIC = "cosine"
INDEX_TYPE = "IVF_PQ"
VECTOR = "vector"


def embeddings_schema(dim: int, metadata: Mapping[str, str] | None = None) -> pa.Schema:
    """The embeddings table's schema for ``dim``-dimensional vectors."""
    return pa.schema(
        [
            pa.field("object_id", pa.string(), nullable=False),
            pa.field("label_name", pa.string()),
            pa.field("split", pa.string()),
            pa.field("thumbnail", pa.binary()),
            pa.field(VECTOR, pa.list_(pa.float32(), dim), nullable=False),
        ],
        metadata=dict(metadata or {}),
    )


def vector_array(vectors: np.ndarray) -> pa.FixedSizeListArray:
    """(N, E) float32 vectors as an Arrow fixed-size-list column."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1])


@dataclass(frozen=True)
class IndexSummary:
    """The vector index of an embeddings dataset."""

    uri: str
    rows: int
    dim: int
    index_type: str | None
    """``IVF_PQ``, or None when the partition is small enough to scan exactly."""
    index_seconds: float
    num_partitions: int
    num_sub_vectors: int


def build_vector_index(dataset: lance.LanceDataset) -> IndexSummary:
    """An IVF-PQ index on ``vector`` (about sqrt(N) lists, 4 dimensions per PQ sub-vector)
    when the dataset has at least :data:`MIN_INDEXED_ROWS` rows."""
    rows = dataset.count_rows()
    dim = dataset.schema.field(VECTOR).type.list_size
    if rows < MIN_INDEXED_ROWS:
        return IndexSummary(dataset.uri, rows, dim, None, 0.0, 0, 0)
    partitions = max(1, min(4096, round(math.sqrt(rows))))
    sub_vectors = next(dim // step for step in (4, 2, 1) if dim % step == 0)
    started = time.perf_counter()
    dataset.create_index(
        VECTOR,
        index_type=INDEX_TYPE,
        metric=METRIC,
        num_partitions=partitions,
        num_sub_vectors=sub_vectors,
        replace=True,
    )
    seconds = time.perf_counter() - started
    return IndexSummary(dataset.uri, rows, dim, INDEX_TYPE, seconds, partitions, sub_vectors)


class EmbeddingIndex:
    """A committed embeddings dataset, opened for queries."""

    def __init__(self, dataset: lance.LanceDataset) -> None:
        self.dataset = dataset
        self.uri = dataset.uri

    @classmethod
    def open(cls, lake: Lake, partition: str) -> EmbeddingIndex:
        """The newest embeddings of a lake partition."""
        try:
            return cls(lake.dataset(EMBEDDINGS_TABLE, partition))
        except FileNotFoundError as exc:
            raise FileNotFoundError(
                f"{exc}: materialize the embeddings asset of partition {partition!r}"
            ) from None

    @property
    def metadata(self) -> dict[str, str]:
        """The schema metadata: which model made the vectors, and how."""
        raw = self.dataset.schema.metadata or {}
        return {key.decode(): value.decode() for key, value in raw.items()}

    @property
    def dim(self) -> int:
        return self.dataset.schema.field(VECTOR).type.list_size

    @property
    def indexed(self) -> bool:
        return any(VECTOR in index.field_names for index in self.dataset.describe_indices())

    def count_rows(self) -> int:
        return self.dataset.count_rows()

    def search(
        self,
        query: np.ndarray,
        k: int,
        nprobes: int = NPROBES,
        refine_factor: int = REFINE_FACTOR,
        columns: Sequence[str] = ("object_id", "label_name", "split", "thumbnail"),
    ) -> pa.Table:
        """The ``k`` rows nearest ``query`` (an L2-normalised vector), best first, with a
        ``score`` column: the cosine similarity."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise ValueError(f"query has {query.shape[0]} dimensions, {self.uri} has {self.dim}")
        nearest = {
            "column": VECTOR,
            "q": query,
            "k": k,
            "metric": METRIC,
            "nprobes": nprobes,
            "refine_factor": refine_factor,
        }
        found = self.dataset.to_table(nearest=nearest, columns=[*columns, "_distance"])
        score = pc.subtract(pa.scalar(1.0, pa.float32()), found["_distance"])
        return found.drop_columns(["_distance"]).append_column("score", score)

    def vector_of(self, object_id: str) -> np.ndarray:
        """The stored vector of one object; a KeyError names it when it is not there."""
        escaped = object_id.replace("'", "''")
        found = self.dataset.to_table(columns=[VECTOR], filter=f"object_id = '{escaped}'")
        if found.num_rows == 0:
            raise KeyError(f"object_id {object_id!r} is not in {self.uri}")
        return np.asarray(found[VECTOR][0].values, dtype=np.float32)

    def vectors(self) -> tuple[list[str], np.ndarray]:
        """Every object id with its vector (for exact search and zero-shot labelling)."""
        table = self.dataset.to_table(columns=["object_id", VECTOR])
        dim = self.dim
        flat = table[VECTOR].combine_chunks().values.to_numpy(zero_copy_only=False)
        return table["object_id"].to_pylist(), flat.reshape(-1, dim).astype(np.float32)
