"""``training_pairs``: images joined with captions, symbols and regions; what every recipe reads."""

import dagster as dg

from assets.metadata import counts_table, write_summary_metadata
from assets.partitions import DATASETS, and_their_shards
from resources import LakeResource


@dg.asset(
    partitions_def=DATASETS,
    group_name="training",
    kinds={"lance"},
    code_version="1",
    deps=["balanced_images", "symbols", *and_their_shards("curated_images", "captions", "regions")],
    check_specs=[dg.AssetCheckSpec("every_image_captioned", asset="training_pairs")],
    description="One row per captioned image (train, val and test): image, caption, the class's "
    "symbol key and the region boxes with their descriptions.",
)
def training_pairs(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Join one dataset's images with their captions, regions and symbols."""
    from cosmoalign.pairs import build_pairs

    dataset = context.partition_key
    result = build_pairs(lake.open(), dataset)
    if result.uncaptioned:
        context.log.warning(
            f"{len(result.uncaptioned)} images have no caption and were left out, e.g. "
            f"{result.uncaptioned[:5]}; re-materialize captions"
        )
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(result.summary),
            "per_split": counts_table(result.per_split),
            "without_symbol": dg.MetadataValue.int(result.without_symbol),
        },
        data_version=dg.DataVersion(result.summary.content_hash),
        check_results=[
            dg.AssetCheckResult(
                check_name="every_image_captioned",
                passed=not result.uncaptioned,
                metadata={"uncaptioned": len(result.uncaptioned)},
            )
        ],
    )
