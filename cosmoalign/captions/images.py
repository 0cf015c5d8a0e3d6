"""The captioned image set of a partition: the balanced training rows, then the held-out curated
rows (so retrieval can be evaluated on val/test captions). Measurements, captions and regions
all cover exactly these rows, in this order."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from cosmoalign.lake import Lake
from cosmoalign.schema import BALANCED_TABLE, CURATED_TABLE

IMAGE_COLUMNS = ["object_id", "split", "label_name", "image_png"]


def image_batches(
    lake: Lake, partition: str, batch_size: int, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """The rows to caption: the balanced training set, then the held-out curated rows
    (``columns`` must include ``split``)."""
    columns = columns or IMAGE_COLUMNS
    yield from lake.iter_batches(BALANCED_TABLE, partition, columns, batch_size)
    for batch in lake.iter_batches(CURATED_TABLE, partition, columns, batch_size):
        held_out = batch.filter(pc.not_equal(batch.column("split"), "train"))
        if held_out.num_rows:
            yield held_out


def image_ids(lake: Lake, partition: str) -> list[str]:
    """The object ids of the rows to caption, in order (reads no pixels)."""
    return [
        object_id
        for batch in image_batches(lake, partition, 4096, ["object_id", "split"])
        for object_id in batch.column("object_id").to_pylist()
    ]
