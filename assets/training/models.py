"""One model asset per recipe (``cosmoclip_model``, ``galaxalign_model``, ``grain_model``).

All three come from one factory: each launches ``accelerate launch -m cosmoalign.train`` through
dagster-pipes in the ``gpu`` pool, and writes safetensors weights plus an open_clip config to
``<lake>/<recipe>_model/<dataset>/`` (on an object store: a new versioned folder there,
published by a ``CURRENT`` marker written last, see :mod:`cosmoalign.models.published`). A run
killed mid-way resumes from its last checkpoint when re-materialized with the same config and
the same training pairs.
"""

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import dagster as dg

from assets.config_defaults import defaults_of
from assets.partitions import DATASETS
from cosmoalign.train.config import TrainConfig
from cosmoalign.train.profiles import active_profile
from resources import AccelerateLauncher, LakeResource
from resources.accelerator_pool import IN_POOL

_PROFILE = active_profile()
_TRAIN_DEFAULTS = defaults_of(TrainConfig)


def _default(name: str):
    """A setting's default: the active profile's value, else :class:`TrainConfig`'s (the one
    place each default is written)."""
    return _PROFILE.get(name, _TRAIN_DEFAULTS[name])


class FinetuneConfig(dg.Config):
    """Hyperparameters of a fine-tuning run (see :class:`cosmoalign.train.TrainConfig` for what
    each means; defaults: the active profile, ``demo`` normally)."""

    arch: str = _default("arch")
    """``offline-default``, ``tiny``, an open_clip architecture (e.g. ``ViT-B-32``) or
    ``local-dir:/path``."""
    pretrained: str | None = _default("pretrained")
    """An open_clip tag (``openai``, ``laion2b_s34b_b79k``) or a checkpoint path."""
    image_size: int | None = _default("image_size")
    epochs: int = _default("epochs")
    max_steps: int | None = _default("max_steps")
    batch_size: int = _default("batch_size")
    grad_accum: int = _default("grad_accum")
    lr: float = _default("lr")
    weight_decay: float = _default("weight_decay")
    warmup_steps: int = _default("warmup_steps")
    lock_text: bool = _default("lock_text")
    lock_image: bool = _default("lock_image")
    lock_image_projection: bool = _default("lock_image_projection")
    trunk_lr_scale: float = _default("trunk_lr_scale")
    short_caption_rate: float = _default("short_caption_rate")
    wise_ft_alpha: float = _default("wise_ft_alpha")
    augment: bool = _default("augment")
    cache_image_features: bool = _default("cache_image_features")
    loader_workers: int = _default("loader_workers")
    """Processes decoding and augmenting images beside training (0: in the training process)."""
    checkpoint_every: int = _default("checkpoint_every")
    seed: int = _default("seed")
    galaxalign_stage2_fraction: float = _default("galaxalign_stage2_fraction")
    region_weight: float = _default("region_weight")


def build_model_asset(recipe: str) -> dg.AssetsDefinition:
    """The model asset of one recipe."""

    @dg.asset(
        name=f"{recipe}_model",
        partitions_def=DATASETS,
        group_name="models",
        kinds={"pytorch", "safetensors"},
        code_version="1",
        **IN_POOL,
        deps=["training_pairs"],
        description=f"CLIP fine-tuned with the {recipe} recipe on one dataset's training pairs: "
        "safetensors weights and an open_clip config, loadable by plain open_clip.",
    )
    def model_asset(
        context: dg.AssetExecutionContext,
        config: FinetuneConfig,
        lake: LakeResource,
        launcher: AccelerateLauncher,
    ) -> dg.MaterializeResult:
        from cosmoalign.models.published import upload_export
        from cosmoalign.work_folders import mark_finished, remove_superseded_runs, remove_unused

        dataset = context.partition_key
        settings = {**config.model_dump(), "mixed_precision": launcher.mixed_precision}
        fingerprint = _fingerprint(settings, _upstream_version(context, dataset))
        run_dir = lake.work_dir(f"train/{recipe}/{dataset}/{fingerprint}")
        train_config = TrainConfig(
            recipe=recipe,
            lake_root=lake.url,
            partition=dataset,
            run_dir=str(run_dir),
            mixed_precision=launcher.mixed_precision,
            export_to=None if lake.is_remote else f"{lake.url}/{recipe}_model/{dataset}",
            # One folder for every recipe: a frozen image side's features are computed once.
            image_feature_dir=str(lake.work_dir("image_features")),
            **config.model_dump(),
        )
        config_path = run_dir / "train_config.json"
        train_config.to_json(config_path)
        result = launcher.run(
            context, "cosmoalign.train", ["--config", str(config_path)], env=lake.subprocess_env()
        )
        target = (
            upload_export(lake.open(), train_config.export_dir, f"{recipe}_model/{dataset}")
            if lake.is_remote
            else str(train_config.export_dir)
        )
        mark_finished(run_dir, {"run_id": context.run.run_id, "export": target})
        superseded = remove_superseded_runs(run_dir)
        unused_features = remove_unused(
            lake.work_dir("image_features"), timedelta(hours=lake.keep_hours)
        )
        return dg.MaterializeResult(
            metadata={
                **result.metadata,
                "superseded_runs_removed": len(superseded),
                "unused_feature_sets_removed": len(unused_features),
                "path": dg.MetadataValue.path(target),
                "run_dir": dg.MetadataValue.path(str(run_dir)),
                "loss_curve": _loss_curve(train_config.metrics_path),
            },
            data_version=result.data_version,
        )

    return model_asset


def _upstream_version(context: dg.AssetExecutionContext, dataset: str) -> str:
    """The data version of the training pairs this run reads."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("training_pairs"), asset_partitions=[dataset]),
        limit=1,
    ).records
    if not records:
        return "unknown"
    return records[0].asset_materialization.tags.get("dagster/data_version", "unknown")


def _fingerprint(settings: dict, upstream: str) -> str:
    """Same config and same inputs -> same run folder, so a retry resumes its checkpoints."""
    blob = json.dumps({"settings": settings, "upstream": upstream}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _loss_curve(metrics_path: Path) -> dg.MetadataValue:
    """The logged training loss as an inline PNG plot."""
    import base64

    from cosmoalign.train.loss_curve import loss_curve_png

    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line]
    png = base64.b64encode(loss_curve_png(rows)).decode()
    return dg.MetadataValue.md(f"![loss](data:image/png;base64,{png})")


cosmoclip_model = build_model_asset("cosmoclip")
galaxalign_model = build_model_asset("galaxalign")
grain_model = build_model_asset("grain")
