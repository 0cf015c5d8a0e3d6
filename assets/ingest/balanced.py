"""``balanced_images``: the FLARE-style class-balanced training set."""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from assets.config_defaults import defaults_of
from assets.metadata import counts_table, sample_grid, write_summary_metadata
from assets.partitions import DATASETS, and_their_shards
from cosmoalign.balance import BalanceConfig, original_id
from cosmoalign.schema import BALANCED_TABLE, CURATED_TABLE, IMAGE_SCHEMA
from cosmoalign.shards import dataset_partitions, read_dataset, write_to_shards
from resources import LakeResource

_BALANCE = defaults_of(BalanceConfig)


class BalanceParams(dg.Config):
    """FLARE-style balancing of the train split (defaults: :class:`BalanceConfig`)."""

    target_per_class: int | None = _BALANCE["target_per_class"]
    """Images per class after balancing; empty (None): the median class count."""
    seed: int = _BALANCE["seed"]
    max_upsample_factor: float = _BALANCE["max_upsample_factor"]
    generative_model_path: str = ""
    """A local diffusers img2img model; when present it replaces the classical sky augmenter."""
    max_imbalance: float = 1.0
    """The class-balance check passes when largest/smallest class count is at most this."""


@dg.asset(
    partitions_def=DATASETS,
    group_name="ingest",
    kinds={"lance"},
    code_version="1",
    deps=and_their_shards("curated_images"),
    check_specs=[
        dg.AssetCheckSpec("class_balance", asset="balanced_images"),
        dg.AssetCheckSpec("no_eval_leakage", asset="balanced_images"),
    ],
    description="Train split only: majority classes downsampled, minority classes upsampled with "
    "sky-appropriate augmentations; every row keeps its provenance.",
)
def balanced_images(
    context: dg.AssetExecutionContext, config: BalanceParams, lake: LakeResource
) -> dg.MaterializeResult:
    """Balance one dataset's train split."""
    from cosmoalign.augment import generative_unavailable_reason, select_augmenter
    from cosmoalign.balance import balance_train_split

    dataset = context.partition_key
    store = lake.open()
    shards = dataset_partitions(store, dataset)
    if len(shards) > 1:
        context.log.info(f"{dataset}: balancing {len(shards)} shards together")
    curated = read_dataset(store, CURATED_TABLE, dataset)
    train = curated.filter(pc.equal(curated.column("split"), "train"))
    held_out = set(
        curated.filter(pc.not_equal(curated.column("split"), "train"))
        .column("object_id")
        .to_pylist()
    )
    if config.generative_model_path:
        reason = generative_unavailable_reason(config.generative_model_path)
        if reason:
            context.log.warning(f"generative augmenter not used: {reason}")
    augmenter = select_augmenter(config.generative_model_path or None)
    balanced, report = balance_train_split(
        train.to_pandas(),
        augmenter,
        BalanceConfig(
            target_per_class=config.target_per_class,
            seed=config.seed,
            max_upsample_factor=config.max_upsample_factor,
        ),
    )
    table = pa.Table.from_pandas(balanced, schema=IMAGE_SCHEMA, preserve_index=False)
    summary = write_to_shards(store, BALANCED_TABLE, dataset, table, home_table=CURATED_TABLE)
    context.log.info(
        f"{dataset}: target {report.target}/class, {report.n_augmented} augmented, "
        f"{report.n_dropped} dropped, augmenter {report.augmenter}"
    )

    after = [n for n in report.counts_after.values() if n > 0]
    imbalance = max(after) / min(after) if after else 1.0
    leaked = sorted({original_id(i) for i in table.column("object_id").to_pylist()} & held_out)
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(summary),
            "target_per_class": dg.MetadataValue.int(report.target),
            "augmented": dg.MetadataValue.int(report.n_augmented),
            "dropped": dg.MetadataValue.int(report.n_dropped),
            "unlabelled_passed_through": dg.MetadataValue.int(report.n_unlabelled),
            "augmenter": dg.MetadataValue.text(report.augmenter),
            "per_class": counts_table(
                {"before": report.counts_before, "after": report.counts_after}
            ),
            **sample_grid(store, table.to_batches(), f"balanced_images/{dataset}"),
        },
        data_version=dg.DataVersion(summary.content_hash),
        check_results=[
            dg.AssetCheckResult(
                check_name="class_balance",
                passed=imbalance <= config.max_imbalance,
                metadata={"largest_over_smallest": imbalance, "limit": config.max_imbalance},
            ),
            dg.AssetCheckResult(
                check_name="no_eval_leakage",
                passed=not leaked,
                metadata={"leaked_ids": dg.MetadataValue.json(leaked[:20])},
            ),
        ],
    )
