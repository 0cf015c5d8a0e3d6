"""``measurements``: each captioned galaxy measured once, for its caption and its regions."""

from collections import Counter

import dagster as dg

from assets.metadata import counts_table, write_summary_metadata
from assets.partitions import lake_partition_of, per_dataset_and_shard
from resources import LakeResource


class MeasureParams(dg.Config):
    """How the measuring pass runs."""

    batch_size: int = 64
    workers: int = 0
    """Worker processes; 0 takes ``$COSMOALIGN_WORKERS`` or one per core."""


def _measurements(
    context: dg.AssetExecutionContext, config: MeasureParams, lake: LakeResource
) -> dg.MaterializeResult:
    """Measure one dataset's (or shard's) captioned images, reusing every current row."""
    from cosmoalign.captions.measurement import MEASUREMENT_VERSION
    from cosmoalign.captions.measurement_table import measure_partition
    from cosmoalign.schema import MEASUREMENTS_TABLE

    partition = lake_partition_of(context)
    store = lake.open()
    result = measure_partition(
        store,
        partition,
        config.batch_size,
        progress=lambda tick: context.log.info(tick.describe("measured")),
        workers=config.workers or None,
    )
    types = store.read(MEASUREMENTS_TABLE, partition, ["galaxy_type"])
    kinds = Counter(kind or "nothing detected" for kind in types.column("galaxy_type").to_pylist())
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(result.summary),
            "measured": dg.MetadataValue.int(result.measured),
            "reused": dg.MetadataValue.int(result.reused),
            "measurement_version": dg.MetadataValue.text(MEASUREMENT_VERSION),
            "galaxy_types": counts_table({"images": kinds}, key="galaxy type"),
        },
        data_version=dg.DataVersion(result.summary.content_hash),
    )


measurements, measurements_of_shard = per_dataset_and_shard(
    "measurements",
    group_name="captions",
    kinds={"lance"},
    code_version="1",
    stage_deps=["curated_images"],
    dataset_deps=["balanced_images"],
    description="Per training and held-out image: the galaxy segmented once in its frame at the "
    "working size; morphology numbers, galaxy type and region boxes, stamped with the "
    "measurement version. Only missing or stale rows (new code, image or frame) are measured "
    "again; captions and regions read from here.",
)(_measurements)
