"""``regions``: GRAIN's grounded descriptions, boxes of each galaxy's parts with text."""

import dagster as dg

from assets.metadata import counts_table, write_summary_metadata
from assets.partitions import lake_partition_of, per_dataset_and_shard
from resources import LakeResource


def _regions(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Describe the regions of one dataset's (or shard's) captioned images."""
    from cosmoalign.captions.region_table import regions_partition

    summary, kinds = regions_partition(
        lake.open(),
        lake_partition_of(context),
        progress=lambda tick: context.log.info(tick.describe("described the regions of")),
    )
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(summary),
            "regions_per_image": dg.MetadataValue.float(
                sum(kinds.values()) / summary.rows if summary.rows else 0.0
            ),
            "region_kinds": counts_table({"regions": kinds}, key="region"),
        },
        data_version=dg.DataVersion(summary.content_hash),
    )


regions, regions_of_shard = per_dataset_and_shard(
    "regions",
    group_name="captions",
    kinds={"lance"},
    code_version="1",
    stage_deps=["curated_images", "captions", "measurements"],
    dataset_deps=["balanced_images"],
    description="Per image: boxes of its parts (core, disc, bar, arms, companions, field stars) "
    "copied from the measurements, each with a description and a score; an MLLM captioner's "
    "listed features are grounded in those boxes.",
)(_regions)
