"""Embed every curated image of a dataset (all its shards) into its indexed embeddings."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from cosmoalign.evaluate.embed import ImageEmbedder
from cosmoalign.framing import crop
from cosmoalign.imaging import PASSED_ON, decode_png, encode_png
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.models.fingerprint import model_identity
from cosmoalign.models.spec import ClipBundle
from cosmoalign.schema import CURATED_TABLE, EMBEDDINGS_TABLE
from cosmoalign.search.gallery import thumbnail
from cosmoalign.search.index import (
    IndexSummary,
    build_vector_index,
    embeddings_schema,
    vector_array,
)
from cosmoalign.shards import iter_dataset_batches

_COLUMNS = ["object_id", "label_name", "split", "image_png", "frame"]


def embed_partition(
    lake: Lake,
    partition: str,
    bundle: ClipBundle,
    model: str,
    batch_size: int = 64,
    device: str | None = None,
) -> tuple[WriteSummary, IndexSummary]:
    """Embed each curated image, cropped to its recorded galaxy-centred frame (as training and
    evaluation see it), into the lake's ``embeddings`` table (streamed: one batch in memory),
    then index the committed version. Returns the write's and the index's summaries.

    ``model`` is the spec ``bundle`` was built from (e.g. ``local-dir:/path``), recorded with the
    model's identity so queries can load the same model and are checked against it."""
    dim = int(bundle.model_cfg["embed_dim"])
    metadata = {"model": model, "model_identity": model_identity(bundle), "view": "framed"}
    schema = embeddings_schema(dim, metadata)
    with (
        lake.writer(EMBEDDINGS_TABLE, partition, schema) as writer,
        ImageEmbedder(bundle, batch_size, device) as embedder,
    ):
        for batch in _embedded_batches(lake, partition, embedder, schema):
            writer.write_table(batch)
    index = build_vector_index(lake.dataset(EMBEDDINGS_TABLE, partition))
    return writer.summary, index


def _embedded_batches(
    lake: Lake, partition: str, embedder: ImageEmbedder, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    for batch in iter_dataset_batches(
        lake, CURATED_TABLE, partition, _COLUMNS, embedder.batch_size
    ):
        rows = batch.to_pylist()
        framed = [encode_png(crop(decode_png(r["image_png"]), r["frame"]), PASSED_ON) for r in rows]
        vectors = embedder(framed)
        yield pa.RecordBatch.from_arrays(
            [
                pa.array([r["object_id"] for r in rows], pa.string()),
                pa.array([r["label_name"] for r in rows], pa.string()),
                pa.array([r["split"] for r in rows], pa.string()),
                pa.array([thumbnail(png) for png in framed], pa.binary()),
                vector_array(vectors),
            ],
            schema=schema,
        )
