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
    deps=["balanced_images", "curated_images", "captions"],
    description="Per image: boxes of its parts (core, disc, bar, arms, companions, field stars) "
    "from segmentation, each with a description and a score; an MLLM captioner's listed "
    "features are grounded in those boxes.",
)
def regions(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Describe the regions of one dataset's captioned images."""
    from cosmoalign.captions.region_table import regions_partition

    def progress(done: int, rate: float) -> None:
        context.log.info(f"described the regions of {done} rows ({rate:.1f} rows/s)")

    summary, kinds = regions_partition(lake.open(), context.partition_key, progress=progress)
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
