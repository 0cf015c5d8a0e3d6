"""``balanced_images``: the FLARE-style class-balanced training set."""

import dagster as dg

from assets.config_defaults import defaults_of
from assets.metadata import counts_table, sample_grid, write_summary_metadata
from assets.partitions import DATASETS, and_their_shards
from cosmoalign.balance import BalanceConfig
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
    from cosmoalign.ingest import balance_dataset

    dataset = context.partition_key
    if config.generative_model_path:
        reason = generative_unavailable_reason(config.generative_model_path)
        if reason:
            context.log.warning(f"generative augmenter not used: {reason}")
    augmenter = select_augmenter(config.generative_model_path or None)
    store = lake.open()
    balance = BalanceConfig(
        target_per_class=config.target_per_class,
        seed=config.seed,
        max_upsample_factor=config.max_upsample_factor,
    )
    result = balance_dataset(store, dataset, balance, augmenter)
    report = result.report
    context.log.info(
        f"{dataset}: {result.shards} shard(s), target {report.target}/class, "
        f"{report.n_augmented} augmented, {report.n_dropped} dropped, augmenter {report.augmenter}"
    )
    return dg.MaterializeResult(
        metadata={
            **write_summary_metadata(result.summary),
            "target_per_class": dg.MetadataValue.int(report.target),
            "augmented": dg.MetadataValue.int(report.n_augmented),
            "dropped": dg.MetadataValue.int(report.n_dropped),
            "unlabelled_passed_through": dg.MetadataValue.int(report.n_unlabelled),
            "augmenter": dg.MetadataValue.text(report.augmenter),
            "per_class": counts_table(
                {"before": report.counts_before, "after": report.counts_after}
            ),
            **sample_grid(store, result.table.to_batches(), f"balanced_images/{dataset}"),
        },
        data_version=dg.DataVersion(result.summary.content_hash),
        check_results=[
            dg.AssetCheckResult(
                check_name="class_balance",
                passed=result.largest_over_smallest <= config.max_imbalance,
                metadata={
                    "largest_over_smallest": result.largest_over_smallest,
                    "limit": config.max_imbalance,
                },
            ),
            dg.AssetCheckResult(
                check_name="no_eval_leakage",
                passed=not result.leaked_ids,
                metadata={"leaked_ids": dg.MetadataValue.json(result.leaked_ids[:20])},
            ),
        ],
    )
