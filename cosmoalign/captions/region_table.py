"""The regions table (GRAIN): per image, boxes of its parts with a description and score each.

Boxes are copied from the ``measurements`` table (each galaxy is segmented once, there); when
the captions were written by a multimodal LLM, the features it listed are grounded in those
boxes (see ``grounding``), so no second MLLM pass is needed.
"""

from __future__ import annotations

from collections import Counter

from cosmoalign.captions.grounding import ground_features
from cosmoalign.captions.images import image_batches, image_ids
from cosmoalign.captions.measurement import Measurement
from cosmoalign.captions.measurement_table import current_measurements
from cosmoalign.captions.mllm import MllmCaptioner, parse_features
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.progress import Meter, Progress
from cosmoalign.schema import CAPTIONS_TABLE, REGION_SCHEMA, REGIONS_TABLE

SEGMENTATION = "segmentation-2.0"


def regions_partition(
    lake: Lake, partition: str, batch_size: int = 1024, progress: Progress | None = None
) -> tuple[WriteSummary, Counter]:
    """Describe the regions of every captioned image from its stored measurement; returns the
    write and the counts per text."""
    features = _mllm_features(lake, partition)
    ids = image_ids(lake, partition)
    measured = current_measurements(lake, partition, ids, needed_by="regions")
    meter = Meter(len(ids), progress)
    kinds: Counter = Counter()
    with lake.writer(REGIONS_TABLE, partition, REGION_SCHEMA) as writer:
        for batch in image_batches(lake, partition, batch_size, ["object_id", "split"]):
            rows = []
            for row in batch.to_pylist():
                regions = list(Measurement.from_row(measured[row["object_id"]]).regions)
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
            meter.add(len(rows))
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
