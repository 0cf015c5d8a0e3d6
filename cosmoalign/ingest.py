"""Stage drivers for the data half of the pipeline: source -> raw -> curated -> balanced.

Each driver streams through the lake in bounded batches and returns what it wrote, so callers
(the Dagster assets, the benchmarks, a notebook) only choose configuration and report.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from cosmoalign.augment import Augmenter
from cosmoalign.balance import BalanceConfig, BalanceReport, balance_train_split, original_id
from cosmoalign.curate import (
    CurationConfig,
    CurationReport,
    apply_splits,
    curate_batch,
    split_assignment,
)
from cosmoalign.lake import Lake, WriteSummary
from cosmoalign.schema import (
    BALANCED_TABLE,
    CURATED_TABLE,
    IMAGE_SCHEMA,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
    RAW_SCHEMA,
    RAW_TABLE,
)
from cosmoalign.shards import dataset_partitions, read_dataset, write_to_shards
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


@dataclass(frozen=True)
class BalanceResult:
    """The balanced training set of a dataset as written, and the checks on it."""

    summary: WriteSummary
    table: pa.Table
    report: BalanceReport
    shards: int
    largest_over_smallest: float
    """Largest over smallest class count after balancing (1.0 with fewer than two classes)."""
    leaked_ids: list[str]
    """Held-out (val/test) objects that reached the training set, itself or as a copy."""


def balance_dataset(
    lake: Lake, dataset: str, config: BalanceConfig, augmenter: Augmenter
) -> BalanceResult:
    """FLARE-balance the train split of a dataset's curated images (every shard of it, read
    together), write ``balanced_images`` back to the shards, and check what it wrote."""
    curated = read_dataset(lake, CURATED_TABLE, dataset)
    is_train = pc.equal(curated.column("split"), "train")
    held_out = set(curated.filter(pc.invert(is_train)).column("object_id").to_pylist())
    balanced, report = balance_train_split(curated.filter(is_train).to_pandas(), augmenter, config)
    table = pa.Table.from_pandas(balanced, schema=IMAGE_SCHEMA, preserve_index=False)
    summary = write_to_shards(lake, BALANCED_TABLE, dataset, table, home_table=CURATED_TABLE)
    after = [n for n in report.counts_after.values() if n > 0]
    shown = {original_id(object_id) for object_id in table.column("object_id").to_pylist()}
    return BalanceResult(
        summary=summary,
        table=table,
        report=report,
        shards=len(dataset_partitions(lake, dataset)),
        largest_over_smallest=max(after) / min(after) if after else 1.0,
        leaked_ids=sorted(shown & held_out),
    )
