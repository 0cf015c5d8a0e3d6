"""``raw_images``: every item of a dataset exactly as its survey delivered it."""

from collections import Counter

import dagster as dg

from assets.metadata import counts_table, raw_sample_grid, write_summary_metadata
from assets.partitions import DATASETS
from cosmoalign.ingest import ingest_source
from cosmoalign.schema import RAW_TABLE
from resources import LakeResource, SurveySources


@dg.asset(
    partitions_def=DATASETS,
    group_name="ingest",
    kinds={"lance"},
    code_version="1",
    description="Raw survey items (FITS, JPEG, arrays) as downloaded, one row per object.",
)
def raw_images(
    context: dg.AssetExecutionContext, lake: LakeResource, sources: SurveySources
) -> dg.MaterializeResult:
    """Fetch one dataset's items into the lake."""
    dataset = context.partition_key
    store = lake.open()
    source = sources.open(dataset, lake.cache_dir(dataset))
    summary = ingest_source(source, store, dataset)
    labels = store.read(RAW_TABLE, dataset, columns=["label_name", "error"])
    per_class = Counter(name or "unlabelled" for name in labels.column("label_name").to_pylist())
    failed = sum(error is not None for error in labels.column("error").to_pylist())
    context.log.info(f"{dataset}: {summary.rows} raw items, {failed} failed to fetch")
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(summary),
            "fetch_failures": dg.MetadataValue.int(failed),
            "per_class": counts_table({"raw": per_class}),
            **raw_sample_grid(store, dataset, f"raw_images/{dataset}", len(source.class_names())),
        },
        data_version=dg.DataVersion(summary.content_hash),
    )
