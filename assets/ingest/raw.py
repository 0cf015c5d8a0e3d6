"""``raw_images``: every item of a dataset exactly as its survey delivered it."""

from collections import Counter

import dagster as dg

from assets.metadata import counts_table, raw_sample_grid, write_summary_metadata
from assets.partitions import dataset_of, lake_partition_of, per_dataset_and_shard, shard_of
from cosmoalign.ingest import ingest_source
from cosmoalign.schema import RAW_TABLE
from cosmoalign.shards import Shard, ShardSource
from resources import LakeResource, SurveySources


def _raw_images(
    context: dg.AssetExecutionContext, lake: LakeResource, sources: SurveySources
) -> dg.MaterializeResult:
    """Fetch one dataset's (or shard's) items into the lake."""
    dataset, partition, shard = dataset_of(context), lake_partition_of(context), shard_of(context)
    store = lake.open()
    source = sources.open(dataset, lake.cache_dir(dataset))
    if shard is not None:
        source = ShardSource(source, Shard.parse(shard))
    summary = ingest_source(source, store, partition)
    labels = store.read(RAW_TABLE, partition, columns=["label_name", "error"])
    per_class = Counter(name or "unlabelled" for name in labels.column("label_name").to_pylist())
    failed = sum(error is not None for error in labels.column("error").to_pylist())
    context.log.info(f"{partition}: {summary.rows} raw items, {failed} failed to fetch")
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(summary),
            "fetch_failures": dg.MetadataValue.int(failed),
            "per_class": counts_table({"raw": per_class}),
            **raw_sample_grid(
                store, partition, f"raw_images/{partition}", len(source.class_names())
            ),
        },
        data_version=dg.DataVersion(summary.content_hash),
    )


raw_images, raw_images_of_shard = per_dataset_and_shard(
    "raw_images",
    group_name="ingest",
    kinds={"lance"},
    code_version="1",
    description="Raw survey items (FITS, JPEG, arrays) as downloaded, one row per object.",
)(_raw_images)
