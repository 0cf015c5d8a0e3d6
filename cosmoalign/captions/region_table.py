"""The regions table (GRAIN): per image, boxes of its parts with a description and score each."""

from __future__ import annotations

from collections import Counter

from cosmoalign.captions.regions import describe_regions
from cosmoalign.captions.table import image_batches
from cosmoalign.imaging import decode_png
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.schema import REGION_SCHEMA

REGIONS_TABLE = "regions"
SEGMENTATION = "segmentation-1.0"


def regions_partition(
    lake: Lake, partition: str, batch_size: int = 64
) -> tuple[WriteSummary, Counter]:
    """Describe the regions of every captioned image; returns the write and counts per text."""
    kinds: Counter = Counter()
    with lake.writer(REGIONS_TABLE, partition, REGION_SCHEMA) as writer:
        for batch in image_batches(lake, partition, batch_size):
            rows = []
            for row in batch.to_pylist():
                regions = describe_regions(decode_png(row["image_png"]))
                kinds.update(region.text for region in regions)
                rows.append(
                    {
                        "object_id": row["object_id"],
                        "split": row["split"],
                        "boxes": [list(region.box) for region in regions],
                        "texts": [region.text for region in regions],
                        "scores": [region.score for region in regions],
                        "method": SEGMENTATION,
                    }
                )
            writer.write_rows(rows)
    return writer.summary, kinds
