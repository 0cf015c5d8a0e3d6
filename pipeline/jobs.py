"""Jobs. Each carries the offline default partition as a tag, so a bare
``dagster job execute -j finetune`` runs on ``embedded``; ``--tags`` or the UI pick another."""

import dagster as dg

from assets.partitions import DEFAULT_DATASET, SHARD_PREFIX
from pipeline.executors import data_job_executor

DEFAULT_PARTITION_TAG = {"dagster/partition": DEFAULT_DATASET}

INGEST_ASSETS = dg.AssetSelection.assets("raw_images", "curated_images", "balanced_images")
PER_SHARD = dg.AssetSelection.key_prefixes([SHARD_PREFIX])
PER_DATASET = dg.AssetSelection.all() - PER_SHARD
CAPTION_STAGES = ("measurements", "captions", "regions")

finetune = dg.define_asset_job(
    "finetune",
    selection=PER_DATASET,
    tags=DEFAULT_PARTITION_TAG,
    description="Everything a model and its report need, from raw survey images onwards.",
)

ingest = dg.define_asset_job(
    "ingest",
    executor_def=data_job_executor(),
    selection=INGEST_ASSETS,
    tags=DEFAULT_PARTITION_TAG,
    description="Download, curate and class-balance one dataset.",
)

recaption = dg.define_asset_job(
    "recaption",
    executor_def=data_job_executor(),
    selection=dg.AssetSelection.assets(*CAPTION_STAGES, "training_pairs"),
    tags=DEFAULT_PARTITION_TAG,
    description="Caption again only the rows whose captioner version or prompt is stale (measuring "
    "only new or stale images: a new phrasing measures nothing), and rebuild the training pairs: "
    "models trained on older captions then show as stale.",
)

# A sharded dataset (see pipeline/shard_plan.py): plan_shards, a backfill of ingest_shards, balance,
# a backfill of caption_shards, train.
ingest_shards = dg.define_asset_job(
    "ingest_shards",
    executor_def=data_job_executor(),
    selection=dg.AssetSelection.assets(
        *([SHARD_PREFIX, name] for name in ("raw_images", "curated_images"))
    ),
    description="Download and curate one shard of a dataset (backfill it over the shards).",
)

balance = dg.define_asset_job(
    "balance",
    executor_def=data_job_executor(),
    selection=dg.AssetSelection.assets("balanced_images"),
    tags=DEFAULT_PARTITION_TAG,
    description="Class-balance a dataset's training split, across all its shards.",
)

caption_shards = dg.define_asset_job(
    "caption_shards",
    executor_def=data_job_executor(),
    selection=dg.AssetSelection.assets(*([SHARD_PREFIX, name] for name in CAPTION_STAGES)),
    description="Measure, caption and describe the regions of one shard; only missing or stale "
    "rows are redone, so this is a shard's recaptioning too.",
)

train = dg.define_asset_job(
    "train",
    selection=PER_DATASET - INGEST_ASSETS - dg.AssetSelection.assets(*CAPTION_STAGES),
    tags=DEFAULT_PARTITION_TAG,
    description="From a dataset's captions on: symbols, training pairs, models, evaluations "
    "and the search index (after caption_shards for a sharded dataset).",
)
