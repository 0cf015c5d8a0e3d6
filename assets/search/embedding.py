"""``embeddings``: every curated image of a dataset embedded by a model asset (default
``cosmoclip_model``) into ``<lake>/embeddings/<dataset>.lance`` with an IVF-PQ vector index;
``labels``: zero-shot labels and probabilities of every image from those embeddings.

Both go stale when the model does: the embeddings depend on the model assets, the labels on the
embeddings, whose data version is the content hash of the vectors written.
"""

import dagster as dg
from pydantic import Field

from assets.metadata import counts_table, write_summary_metadata
from assets.partitions import DATASETS, and_their_shards
from cosmoalign.classify.label_choices import DEFAULT_LABELS, parse_labels
from cosmoalign.train.config import RECIPES
from resources import LakeResource
from resources.accelerator_pool import IN_POOL

LABELS_TABLE = "labels"


class EmbeddingsConfig(dg.Config):
    """Which model asset embeds the images."""

    model: str = Field(default="cosmoclip", description=f"one of {', '.join(RECIPES)}")
    batch_size: int = 64


class LabelsConfig(dg.Config):
    """The labels to choose between and the prompts that describe them."""

    labels: list[str] = Field(default_factory=lambda: list(DEFAULT_LABELS))
    templates: list[str] = Field(
        default_factory=list,
        description="prompt templates with {} for the label; empty: the evaluation's templates",
    )


@dg.asset(
    partitions_def=DATASETS,
    group_name="search",
    kinds={"lance", "pytorch"},
    code_version="1",
    deps=[*and_their_shards("curated_images"), *(f"{recipe}_model" for recipe in RECIPES)],
    # Accelerator work like training and evaluation: beside an evaluation on a CPU-only machine,
    # two torch thread pools would split the cores and both run slower than in turn.
    **IN_POOL,
    description="Image embeddings of every curated image under a model asset (default "
    "cosmoclip), as a Lance dataset with an IVF-PQ vector index for similarity and text search.",
)
def embeddings(
    context: dg.AssetExecutionContext, config: EmbeddingsConfig, lake: LakeResource
) -> dg.MaterializeResult:
    from cosmoalign.models import ModelSpec, build_model
    from cosmoalign.models.fingerprint import model_identity
    from cosmoalign.models.spec import LOCAL_DIR_PREFIX
    from cosmoalign.search import embed_partition
    from cosmoalign.search.models import resolve_model

    dataset = context.partition_key
    if config.model not in RECIPES:
        raise ValueError(f"embeddings config model {config.model!r}: use one of {RECIPES}")
    spec = (
        ModelSpec(LOCAL_DIR_PREFIX + str(lake.model_dir(config.model, dataset)))
        if lake.is_remote
        else resolve_model(config.model, lake.url, dataset)
    )
    bundle = build_model(spec)
    written, index = embed_partition(lake.open(), dataset, bundle, spec.arch, config.batch_size)
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(written),
            "dimension": dg.MetadataValue.int(index.dim),
            "index": dg.MetadataValue.text(index.index_type or "none (exact scan)"),
            "index_build_seconds": dg.MetadataValue.float(index.index_seconds),
            "ivf_partitions": dg.MetadataValue.int(index.num_partitions),
            "model": dg.MetadataValue.text(f"{config.model}_model"),
            "model_data_version": dg.MetadataValue.text(
                _data_version(context, f"{config.model}_model", dataset)
            ),
            "model_identity": dg.MetadataValue.text(model_identity(bundle)),
        },
        data_version=dg.DataVersion(written.content_hash),
    )


@dg.asset(
    partitions_def=DATASETS,
    group_name="search",
    kinds={"parquet"},
    code_version="1",
    deps=["embeddings"],
    description="Zero-shot labels of every image (most probable label, its probability and "
    "p_<label> for each label) from the embeddings and the model that made them.",
)
def labels(
    context: dg.AssetExecutionContext, config: LabelsConfig, lake: LakeResource
) -> dg.MaterializeResult:
    from cosmoalign.classify.zero_shot import (
        label_probabilities,
        labels_table,
        parse_templates,
    )
    from cosmoalign.models import ModelSpec, build_model
    from cosmoalign.search.index import EmbeddingIndex
    from cosmoalign.search.run import check_model_matches

    dataset = context.partition_key
    names = parse_labels(config.labels)
    templates = parse_templates(config.templates)
    store = lake.open()
    index = EmbeddingIndex.open(store, dataset)
    bundle = build_model(ModelSpec(index.metadata["model"]))
    check_model_matches(index, bundle)
    ids, vectors = index.vectors()
    probabilities = label_probabilities(bundle, vectors, names, templates)
    table = labels_table(ids, probabilities, names, "object_id")
    summary = store.write_table(LABELS_TABLE, dataset, table)
    counts = dict.fromkeys(names, 0)
    for name in table["label"].to_pylist():
        counts[name] += 1
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(summary),
            "labels": counts_table({"images": counts}, key="label"),
            "mean_probability": dg.MetadataValue.float(
                float(sum(table["probability"].to_pylist()) / max(1, table.num_rows))
            ),
            "templates": dg.MetadataValue.json(templates),
            "model": dg.MetadataValue.text(index.metadata["model"]),
        },
        data_version=dg.DataVersion(summary.content_hash),
    )


def _data_version(context: dg.AssetExecutionContext, asset: str, partition: str) -> str:
    """The data version of the latest materialization of an upstream asset's partition."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]),
        limit=1,
    ).records
    if not records:
        return "unknown"
    return records[0].asset_materialization.tags.get("dagster/data_version", "unknown")
