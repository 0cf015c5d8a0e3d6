"""The regions table (GRAIN): per image, boxes of its parts with a description and score each.

Boxes come from segmentation; when the captions were written by a multimodal LLM, the features
it listed are grounded in those boxes (see ``grounding``), so no second MLLM pass is needed.
"""

from __future__ import annotations

from collections import Counter

from cosmoalign.captions.grounding import ground_features
from cosmoalign.captions.mllm import MllmCaptioner, parse_features
from cosmoalign.captions.regions import describe_regions
from cosmoalign.captions.table import CAPTIONS_TABLE, image_batches
from cosmoalign.imaging import decode_png
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.schema import REGION_SCHEMA

REGIONS_TABLE = "regions"
SEGMENTATION = "segmentation-1.0"


def regions_partition(
    lake: Lake, partition: str, batch_size: int = 64
) -> tuple[WriteSummary, Counter]:
    """Describe the regions of every captioned image; returns the write and counts per text."""
    features = _mllm_features(lake, partition)
    kinds: Counter = Counter()
    with lake.writer(REGIONS_TABLE, partition, REGION_SCHEMA) as writer:
        for batch in image_batches(lake, partition, batch_size):
            rows = []
            for row in batch.to_pylist():
                regions = describe_regions(decode_png(row["image_png"]))
                method = SEGMENTATION
                if row["object_id"] in features:
                    version, named = features[row["object_id"]]
                    regions = ground_features(regions, named)
                    method = f"{SEGMENTATION}+mllm-{version}"
                kinds.update(region.text for region in regions)
                rows.append(
                    {
                        "object_id": row["object_id"],
                        "split": row["split"],
                        "boxes": [list(region.box) for region in regions],
                        "texts": [region.text for region in regions],
                        "scores": [region.score for region in regions],
                        "method": method,
                    }
                )
            writer.write_rows(rows)
    return writer.summary, kinds


def _mllm_features(lake: Lake, partition: str) -> dict[str, tuple[str, list[str]]]:
    """Per object, the MLLM captioner's version and its feature list (empty without MLLM rows)."""
    if not lake.exists(CAPTIONS_TABLE, partition):
        return {}
    columns = ["object_id", "description", "captioner", "captioner_version"]
    rows = lake.read(CAPTIONS_TABLE, partition, columns).to_pylist()
    return {
        row["object_id"]: (row["captioner_version"], parse_features(row["description"]))
        for row in rows
        if row["captioner"] == MllmCaptioner.name
    }
