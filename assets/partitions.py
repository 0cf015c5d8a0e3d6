"""Partitions: the dataset runs through the whole graph; sharded surveys add a shard dimension.

On a single machine every asset is partitioned by dataset, as before. The per-row stages
(ingest, curation, measuring, captioning, regions) also exist per (dataset, shard), under the
``shards/`` key prefix: the same function, a second asset. A backfill over shards runs them in
parallel; the dataset-level assets downstream (balancing, symbols, training pairs, training,
evaluation, search) read every shard of their dataset (:func:`cosmoalign.shards.dataset_partitions`)
and Dagster maps each dataset to its shards (``MultiToSingleDimensionPartitionMapping``,
inferred), so lineage stays exact.
"""

from collections.abc import Callable, Sequence

import dagster as dg

from cosmoalign.shards import lake_partition

DEFAULT_DATASET = "embedded"
SHARD_PREFIX = "shards"

DATASETS = dg.StaticPartitionsDefinition(
    [
        "embedded",
        "galaxy10_decals",
        "galaxy_mnist",
        "spacenet",
        "legacy_survey",
        "sdss",
        "local",
    ]
)
SHARDS = dg.DynamicPartitionsDefinition(name="shards")
"""Shard keys (``hpx<order>-<pixel>``, ``ids<count>-<i>``), added by the ``plan_shards`` job."""
DATASET_SHARDS = dg.MultiPartitionsDefinition({"dataset": DATASETS, "shard": SHARDS})


def _dimensions(context: dg.AssetExecutionContext) -> tuple[str, str | None]:
    key = context.partition_key
    if not isinstance(context.assets_def.partitions_def, dg.MultiPartitionsDefinition):
        return key, None
    if not isinstance(key, dg.MultiPartitionKey):  # a run tagged with the key as a string
        key = DATASET_SHARDS.get_partition_key_from_str(key)
    return key.keys_by_dimension["dataset"], key.keys_by_dimension["shard"]


def dataset_of(context: dg.AssetExecutionContext) -> str:
    """The dataset of the partition being materialized."""
    return _dimensions(context)[0]


def shard_of(context: dg.AssetExecutionContext) -> str | None:
    """The shard of the partition being materialized (None for a whole dataset)."""
    return _dimensions(context)[1]


def lake_partition_of(context: dg.AssetExecutionContext) -> str:
    """The lake partition the materialization reads and writes: ``<dataset>[.<shard>]``."""
    return lake_partition(*_dimensions(context))


def and_their_shards(*names: str) -> list[dg.AssetKey]:
    """Dependencies on per-row stages, whole and per shard: a dataset-level asset reads every
    shard of its dataset when the dataset is sharded, else the whole-dataset partition."""
    return [key for name in names for key in (dg.AssetKey(name), dg.AssetKey([SHARD_PREFIX, name]))]


def per_dataset_and_shard(
    name: str,
    *,
    stage_deps: Sequence[str] = (),
    dataset_deps: Sequence[str] = (),
    checks: Sequence[str] = (),
    **asset_args,
) -> Callable[[Callable], tuple[dg.AssetsDefinition, dg.AssetsDefinition]]:
    """Decorate a per-row stage into two assets: ``name`` partitioned by dataset and
    ``shards/name`` partitioned by (dataset, shard).

    ``stage_deps`` are per-row stages too (the shard asset depends on their shard asset);
    ``dataset_deps`` are dataset-level assets both depend on. ``checks`` name asset checks."""

    def build(fn: Callable) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
        def one(prefix: list[str], partitions: dg.PartitionsDefinition, **extra):
            key = dg.AssetKey([*prefix, name])
            return dg.asset(
                key=key,
                partitions_def=partitions,
                deps=[dg.AssetKey([*prefix, dep]) for dep in stage_deps] + list(dataset_deps),
                check_specs=[dg.AssetCheckSpec(check, asset=key) for check in checks],
                **{**asset_args, **extra},
            )(fn)

        return one([], DATASETS), one([SHARD_PREFIX], DATASET_SHARDS, group_name=SHARD_PREFIX)

    return build
