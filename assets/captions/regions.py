"""``regions``: GRAIN's grounded descriptions, boxes of each galaxy's parts with text."""

import dagster as dg

from assets.metadata import counts_table, write_summary_metadata
from assets.partitions import DATASETS
from resources import LakeResource


@dg.asset(
    partitions_def=DATASETS,
    group_name="captions",
    kinds={"lance"},
    code_version="1",
    deps=["balanced_images", "curated_images", "captions", "measurements"],
    description="Per image: boxes of its parts (core, disc, bar, arms, companions, field stars) "
    "copied from the measurements, each with a description and a score; an MLLM captioner's "
    "listed features are grounded in those boxes.",
)
def regions(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Describe the regions of one dataset's captioned images."""
    from cosmoalign.captions.region_table import regions_partition

    summary, kinds = regions_partition(
        lake.open(),
        context.partition_key,
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
