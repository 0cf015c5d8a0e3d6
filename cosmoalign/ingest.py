"""Stage drivers for the data half of the pipeline: source -> raw -> curated.

Each driver streams through the lake in bounded batches and returns what it wrote, so callers
(the Dagster assets, the benchmarks, a notebook) only choose configuration and report.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from tqdm.auto import tqdm

from cosmoalign.curate import (
    CurationConfig,
    CurationReport,
    apply_splits,
    curate_batch,
    split_assignment,
)
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.schema import (
    CURATED_TABLE,
    IMAGE_SCHEMA,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
    RAW_SCHEMA,
    RAW_TABLE,
)
from cosmoalign.sources.base import Source

_UNSPLIT_TABLE = "_work_curated_unsplit"


def ingest_source(
    source: Source, lake: Lake, partition: str, batch_size: int = 256
) -> WriteSummary:
    """Stream a source's raw items into the ``raw_images`` table, ``batch_size`` at a time."""
    items = iter(source.iter_items())
    with (
        lake.writer(RAW_TABLE, partition, RAW_SCHEMA) as writer,
        tqdm(desc=f"ingest {source.name}", unit="img", mininterval=2.0) as bar,
    ):
        while batch := list(islice(items, batch_size)):
            writer.write_rows(dataclasses.asdict(item) for item in batch)
            bar.update(len(batch))
    return writer.summary


@dataclass(frozen=True)
class CurationResult:
    """The curated images, the quarantine and the counts behind them."""

    images: WriteSummary
    quarantine: WriteSummary
    report: CurationReport


def curate_partition(
    lake: Lake,
    partition: str,
    config: CurationConfig | None = None,
    batch_size: int = 256,
    workers: int | None = None,
) -> CurationResult:
    """Decode, validate, dedupe and split one raw partition.

    Pass 1 writes accepted rows to a work table and rejects to the quarantine; the stratified
    split needs every accepted id, so pass 2 fills ``split`` and commits ``curated_images``.
    Decoding and PNG encoding run on ``workers`` threads (default: one per CPU).
    """
    config = config or CurationConfig()
    report = CurationReport()
    seen: dict[str, str] = {}
    total = lake.count_rows(RAW_TABLE, partition)
    with (
        lake.writer(_UNSPLIT_TABLE, partition, IMAGE_SCHEMA) as staged,
        lake.writer(QUARANTINE_TABLE, partition, QUARANTINE_SCHEMA) as quarantine,
        tqdm(total=total, desc=f"curate {partition}", unit="img", mininterval=2.0) as bar,
        ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool,
    ):
        for raw in lake.iter_batches(RAW_TABLE, partition, batch_size=batch_size):
            accepted, rejected = curate_batch(raw, config, seen, report, pool)
            staged.write_rows(accepted)
            quarantine.write_rows(rejected)
            bar.update(raw.num_rows)
    assignment = split_assignment(
        lake.iter_batches(_UNSPLIT_TABLE, partition, columns=["object_id", "label"]), config
    )
    with lake.writer(CURATED_TABLE, partition, IMAGE_SCHEMA) as images:
        for table in apply_splits(
            lake.iter_batches(_UNSPLIT_TABLE, partition, batch_size=batch_size), assignment, report
        ):
            images.write_table(table)
    lake.delete(_UNSPLIT_TABLE, partition)
    return CurationResult(images.summary, quarantine.summary, report)
