"""``plan_shards``: cut a dataset into shards and register them as partitions.

Run it once per survey (and again to re-cut); then backfill ``ingest_shards`` over the
dataset's shards, run ``balance``, backfill ``caption_shards``, and run ``train``. A dataset
without a plan stays one partition, as on a single machine.
"""

import dagster as dg

from assets.partitions import DATASETS, SHARDS
from cosmoalign.shards import SCHEMES, shard_keys, write_shard_plan
from pipeline.executors import data_job_executor
from resources import LakeResource, SurveySources


class ShardPlanConfig(dg.Config):
    """How to cut the dataset."""

    dataset: str
    scheme: str = "ids"
    """``ids`` (slices of the object-id hash) or ``hpx`` (HEALPix pixels of the positions)."""
    level: int = 8
    """The slice count for ``ids``; the HEALPix order for ``hpx`` (12 * 4**order pixels)."""


@dg.op(description="Write the dataset's shard plan to the lake and add its shard partitions.")
def cut_into_shards(
    context: dg.OpExecutionContext,
    config: ShardPlanConfig,
    lake: LakeResource,
    sources: SurveySources,
) -> list[str]:
    """Plan the shards: every id slice, or the HEALPix pixels that hold at least one item."""
    if config.dataset not in DATASETS.get_partition_keys():
        raise ValueError(
            f"unknown dataset {config.dataset!r}; one of {DATASETS.get_partition_keys()}"
        )
    if config.scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {config.scheme!r}")
    items = ()
    if config.scheme == "hpx":  # only positions decide which pixels are present
        items = sources.open(config.dataset, lake.cache_dir(config.dataset)).iter_items()
    keys = shard_keys(items, config.scheme, config.level)
    write_shard_plan(lake.open(), config.dataset, keys)
    context.instance.add_dynamic_partitions(SHARDS.name, keys)
    context.log.info(f"{config.dataset}: {len(keys)} shards ({', '.join(keys[:8])}...)")
    return keys


@dg.job(
    description="Cut a dataset into shards (HEALPix pixels or id slices) for a backfill.",
    executor_def=data_job_executor(),
)
def plan_shards() -> None:
    """One op: plan the shards and register them."""
    cut_into_shards()
