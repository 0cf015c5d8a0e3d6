"""One evaluation asset per recipe (``cosmoclip_evaluation``, ...): the fine-tuned model against
its base on the dataset's held-out split, on any out-of-domain datasets named in config and on the
real benchmark (gz-kaggle-spirals validation) where this machine has it (``COSMOALIGN_REAL_EVAL``,
see :mod:`cosmoalign.evaluate.real_sets`).

Writes the key numbers as a lake table ``<recipe>_evaluation`` (partition ``<dataset>``) and
``results.json`` with a self-contained ``report.html`` to ``<lake>/reports/<recipe>_evaluation/
<dataset>/``; the key numbers also go to Dagster metadata.
"""

import hashlib
import json
from pathlib import Path

import dagster as dg
from pydantic import Field

from assets.partitions import DATASETS
from cosmoalign.train.config import RECIPES
from resources import LakeResource
from resources.accelerator_pool import IN_POOL


class EvaluationConfig(dg.Config):
    """What to evaluate on besides the dataset's own held-out split."""

    split: str = "test"
    out_of_domain: list[str] = Field(
        default_factory=list,
        description="Other lake partitions (lake:<partition>) or local folders (class sub-folders)",
    )
    prompts: str = ""
    """Optional JSON/CSV mapping class name -> prompt text (e.g. non_spirals -> smooth) of the
    held-out split and the out-of-domain sets; the real benchmark has its own."""
    batch_size: int = 64


def build_evaluation_asset(recipe: str) -> dg.AssetsDefinition:
    """The evaluation asset of one recipe."""

    @dg.asset(
        name=f"{recipe}_evaluation",
        partitions_def=DATASETS,
        group_name="evaluation",
        kinds={"json", "html"},
        code_version="2",
        deps=[f"{recipe}_model", "training_pairs"],
        # Embedding is accelerator work: on a CPU-only machine, an evaluation beside the next
        # recipe's training would split the cores between two torch thread pools.
        **IN_POOL,
        description=f"The {recipe} model vs its base: zero-shot, retrieval, similarity search "
        "and linear probe, in and out of domain and on real SDSS galaxies (when present), with "
        "an HTML report.",
    )
    def evaluation_asset(
        context: dg.AssetExecutionContext, config: EvaluationConfig, lake: LakeResource
    ) -> dg.MaterializeResult:
        from cosmoalign.evaluate.evaluation_report import evaluate_recipe
        from cosmoalign.evaluate.real_sets import real_eval_folder
        from cosmoalign.models.model_card import record_evaluation
        from cosmoalign.models.published import upload_card
        from cosmoalign.report.stored import write_report
        from cosmoalign.work_folders import trim_to_size

        dataset = context.partition_key
        cache_dir = lake.work_dir("embeddings")
        model_dir = lake.model_dir(recipe, dataset)  # downloaded first from an object store
        base = _base_spec(context, f"{recipe}_model", dataset)
        store = lake.open()
        evaluation = evaluate_recipe(
            lake_root=store.root,
            partition=dataset,
            base=base,
            fine_tuned=model_dir,
            split=config.split,
            out_of_domain=config.out_of_domain,
            prompts=config.prompts or None,
            real_eval=real_eval_folder(context.log.info),
            batch_size=config.batch_size,
            cache_dir=cache_dir,
            title=f"{recipe} on {dataset}",
            storage_options=store.storage_options,
        )
        stored = write_report(
            store, f"{recipe}_evaluation", dataset, evaluation.results, evaluation.html
        )
        summary = store.write_table(f"{recipe}_evaluation", dataset, evaluation.key_numbers)
        trimmed = trim_to_size(cache_dir, int(lake.evaluation_cache_gb * 2**30))
        if trimmed:
            context.log.info(f"evaluation cache: removed {len(trimmed)} least recently used files")
        card = record_evaluation(model_dir, evaluation.results)
        if card is not None and lake.is_remote:
            upload_card(store, f"{recipe}_model/{dataset}", model_dir)
        return dg.MaterializeResult(
            metadata={
                "key_numbers": dg.MetadataValue.md(evaluation.markdown),
                "report": dg.MetadataValue.path(stored.html_path),
                "results": dg.MetadataValue.path(stored.results_path),
                "table": dg.MetadataValue.path(summary.path),
                **{
                    name: dg.MetadataValue.float(value)
                    for name, value in evaluation.headline.items()
                },
            },
            data_version=dg.DataVersion(
                hashlib.sha256(stored.results_json.encode()).hexdigest()[:16]
            ),
        )

    return evaluation_asset


def _base_spec(context: dg.AssetExecutionContext, model_asset: str, dataset: str) -> dict:
    """The architecture the model was fine-tuned from, from its training config."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(model_asset), asset_partitions=[dataset]),
        limit=1,
    ).records
    if not records:
        raise ValueError(f"{model_asset} has no materialization for {dataset!r}: train it first")
    run_dir = Path(records[0].asset_materialization.metadata["run_dir"].value)
    train_config = json.loads((run_dir / "train_config.json").read_text())
    return {key: train_config[key] for key in ("arch", "pretrained", "image_size", "seed")}


cosmoclip_evaluation, galaxalign_evaluation, grain_evaluation = (
    build_evaluation_asset(recipe) for recipe in RECIPES
)
