"""Jobs. Each carries the offline default partition as a tag, so a bare
``dagster job execute -j finetune`` runs on ``embedded``; ``--tags`` or the UI pick another."""

import dagster as dg

from assets.partitions import DEFAULT_DATASET

DEFAULT_PARTITION_TAG = {"dagster/partition": DEFAULT_DATASET}

INGEST_ASSETS = dg.AssetSelection.assets("raw_images", "curated_images", "balanced_images")

finetune = dg.define_asset_job(
    "finetune",
    selection=dg.AssetSelection.all(),
    tags=DEFAULT_PARTITION_TAG,
    description="Everything a model and its report need, from raw survey images onwards.",
)

ingest = dg.define_asset_job(
    "ingest",
    selection=INGEST_ASSETS,
    tags=DEFAULT_PARTITION_TAG,
    description="Download, curate and class-balance one dataset.",
)

recaption = dg.define_asset_job(
    "recaption",
    selection=dg.AssetSelection.assets("measurements", "captions", "regions", "training_pairs"),
    tags=DEFAULT_PARTITION_TAG,
    description="Caption again only the rows whose captioner version or prompt is stale (measuring "
    "only new or stale images: a new phrasing measures nothing), and rebuild the training pairs: "
    "models trained on older captions then show as stale.",
)
