"""``curated_images``: validated, deduplicated RGB images with stratified splits."""

import dagster as dg

from assets.config_defaults import defaults_of
from assets.metadata import counts_table, sample_grid, write_summary_metadata
from assets.partitions import lake_partition_of, per_dataset_and_shard
from cosmoalign.curate import CurationConfig
from cosmoalign.ingest import curate_partition
from cosmoalign.schema import CURATED_TABLE, QUARANTINE_TABLE
from resources import LakeResource

_CURATION = defaults_of(CurationConfig)
_, _VAL, _TEST = _CURATION["split_fractions"]


class CurationParams(dg.Config):
    """What counts as a usable image, and how to split (defaults: :class:`CurationConfig`)."""

    min_size: int = _CURATION["min_size"]
    max_size: int = _CURATION["max_size"]
    max_pixels: int = _CURATION["max_pixels"]
    """Width x height cap, checked on the file's header before decoding."""
    max_nonfinite_fraction: float = _CURATION["max_nonfinite_fraction"]
    val_fraction: float = _VAL
    test_fraction: float = _TEST
    max_quarantine_rate: float = 0.1
    """The quarantine check fails above this fraction of the partition's images."""


def _curated_images(
    context: dg.AssetExecutionContext, config: CurationParams, lake: LakeResource
) -> dg.MaterializeResult:
    """Curate one dataset or shard; rejects go to the ``quarantine`` table with their reason."""
    partition = lake_partition_of(context)
    store = lake.open()
    curation = CurationConfig(
        min_size=config.min_size,
        max_size=config.max_size,
        max_pixels=config.max_pixels,
        max_nonfinite_fraction=config.max_nonfinite_fraction,
        split_fractions=(
            1.0 - config.val_fraction - config.test_fraction,
            config.val_fraction,
            config.test_fraction,
        ),
    )
    result = curate_partition(store, partition, curation)
    report = result.report
    shown = 20
    quarantined = next(store.iter_batches(QUARANTINE_TABLE, partition, batch_size=shown), None)
    for row in quarantined.to_pylist() if quarantined is not None else []:
        context.log.warning(
            f"quarantined {row['object_id']} ({row['source_file']}): {row['reason']}"
        )
    if result.quarantine.rows > shown:
        context.log.warning(
            f"... and {result.quarantine.rows - shown} more in {result.quarantine.path}"
        )
    by_split = dict(report.per_split)
    images = store.iter_batches(CURATED_TABLE, partition, columns=["label_name", "image_png"])
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(result.images),
            "quarantined": dg.MetadataValue.int(result.quarantine.rows),
            "quarantine_rate": dg.MetadataValue.float(report.quarantine_rate),
            "quarantine_path": dg.MetadataValue.path(result.quarantine.path),
            "per_split": dg.MetadataValue.json(by_split),
            "per_class": counts_table({"curated": report.per_class}),
            **sample_grid(
                store, images, f"curated_images/{partition}", class_count=len(report.per_class)
            ),
        },
        data_version=dg.DataVersion(result.images.content_hash),
        check_results=[
            dg.AssetCheckResult(
                check_name="quarantine_rate",
                passed=report.quarantine_rate <= config.max_quarantine_rate,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "rate": report.quarantine_rate,
                    "limit": config.max_quarantine_rate,
                    "by_stage": dg.MetadataValue.json(dict(report.rejected)),
                },
            )
        ],
    )


curated_images, curated_images_of_shard = per_dataset_and_shard(
    "curated_images",
    group_name="ingest",
    kinds={"lance"},
    code_version="1",
    stage_deps=["raw_images"],
    checks=["quarantine_rate"],
    description="Decoded, validated, de-duplicated RGB images (Lupton asinh for multi-band), "
    "split train/val/test by a stable hash of object_id, stratified by class.",
)(_curated_images)
