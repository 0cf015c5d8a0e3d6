"""The regions table (GRAIN): per image, boxes of its parts with a description and score each.

Boxes come from segmentation; when the captions were written by a multimodal LLM, the features
it listed are grounded in those boxes (see ``grounding``), so no second MLLM pass is needed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

from cosmoalign.captions.base import Region
from cosmoalign.captions.grounding import ground_features
from cosmoalign.captions.mllm import MllmCaptioner, parse_features
from cosmoalign.captions.regions import describe_regions
from cosmoalign.captions.table import CAPTIONS_TABLE, Progress, image_batches
from cosmoalign.framing import WORKING_SIZE, framed
from cosmoalign.imaging import decode_png
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.parallel import pool_map, worker_pool
from cosmoalign.schema import REGION_SCHEMA

REGIONS_TABLE = "regions"
SEGMENTATION = "segmentation-2.0"
_COLUMNS = ["object_id", "split", "image_png", "frame"]


def regions_partition(
    lake: Lake, partition: str, batch_size: int = 64, progress: Progress | None = None
) -> tuple[WriteSummary, Counter]:
    """Describe the regions of every captioned image; returns the write and counts per text.

    ``progress`` is called after each batch with the rows done and the rows per second.
    """
    features = _mllm_features(lake, partition)
    kinds: Counter = Counter()
    done, start = 0, time.perf_counter()
    with worker_pool() as pool, lake.writer(REGIONS_TABLE, partition, REGION_SCHEMA) as writer:
        for batch in image_batches(lake, partition, batch_size, _COLUMNS):
            rows = []
            found = pool_map(
                pool,
                _describe_framed,
                zip(batch["image_png"].to_pylist(), batch["frame"].to_pylist(), strict=True),
            )
            for row, regions in zip(batch.to_pylist(), found, strict=True):
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
            done += len(rows)
            if progress is not None:
                progress(done, done / (time.perf_counter() - start))
    return writer.summary, kinds


def _describe_framed(job: tuple[bytes, list[int]]) -> list[Region]:
    """Regions found in the galaxy's frame at the working size, boxes in the image's pixels."""
    png, frame = job
    x0, y0, x1, _ = frame
    scale = (x1 - x0) / WORKING_SIZE
    return [
        replace(
            region,
            box=tuple(
                round(origin + value * scale)
                for origin, value in zip((x0, y0, x0, y0), region.box, strict=True)
            ),
        )
        for region in describe_regions(framed(decode_png(png), frame, WORKING_SIZE))
    ]


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
