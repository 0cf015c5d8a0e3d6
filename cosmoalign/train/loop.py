"""One training loop on Hugging Face Accelerate for every recipe.

Reads top to bottom: build the model and data, ``prepare``, resume from the newest complete
checkpoint, then steps with gradient accumulation, a cosine schedule and periodic ``save_state``,
and finally export an open_clip-loadable model (optionally WiSE-FT-interpolated with the base).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from copy import copy
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import torch
from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs
from accelerate.utils import ProjectConfiguration, set_seed
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from cosmoalign.models import ModelSpec, build_model, export_open_clip
from cosmoalign.models.model_card import ModelCard, write_model_card
from cosmoalign.pipes_reporter import LogReporter, Reporter
from cosmoalign.train.checkpoints import (
    Progress,
    checkpoint_path,
    mark_complete,
    newest_complete,
    prune,
    training_settings,
    verified_trainer_state,
    write_trainer_state,
)
from cosmoalign.train.config import TrainConfig
from cosmoalign.train.data import (
    Collate,
    PairsDataset,
    start_epoch,
    symbol_images,
)
from cosmoalign.train.image_features import (
    EpochFeatures,
    ImageFeatureStore,
    compute_epoch_features,
    feature_key,
    image_side_frozen,
)
from cosmoalign.train.loader_server import loader_context
from cosmoalign.train.recipes import (
    OBJECTIVES,
    ClipObjective,
    build_objective,
)
from cosmoalign.train.text_encoding import can_trim_padding
from cosmoalign.train.wise_ft import interpolate

WEIGHTS_FILE = "open_clip_model.safetensors"


@dataclass(frozen=True)
class TrainResult:
    """What a finished run did (main process figures)."""

    steps: int
    final_loss: float
    samples_per_second: float
    seconds: float
    resumed_from_step: int
    export_dir: str
    weights_sha256: str

    def metadata(self) -> dict:
        """The result as plain values for a Dagster materialization."""
        return asdict(self)


def use_cpu() -> bool:
    """Run on CPU when asked (``accelerate launch --cpu``) or when no GPU is visible.

    Accelerate only forms a multi-process CPU group (gloo) when told ``cpu=True``; without it,
    ``--multi_gpu`` processes on a GPU-less machine would each train alone.
    """
    requested = os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    return requested or not torch.cuda.is_available()


def train(config: TrainConfig, reporter: Reporter | None = None) -> TrainResult:
    """Fine-tune one recipe; resumes automatically from ``config.run_dir``'s newest checkpoint."""
    reporter = reporter or LogReporter()
    run_dir = Path(config.run_dir)
    recipe = OBJECTIVES[config.recipe]
    accelerator = Accelerator(
        cpu=use_cpu(),
        mixed_precision=config.mixed_precision,
        gradient_accumulation_steps=config.grad_accum,
        log_with="tensorboard",
        project_config=ProjectConfiguration(
            project_dir=str(run_dir), logging_dir=str(run_dir / "tensorboard")
        ),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
        kwargs_handlers=[
            DistributedDataParallelKwargs(find_unused_parameters=recipe.needs_symbols)
        ],
    )
    set_seed(config.seed)

    bundle = build_model(ModelSpec(config.arch, config.pretrained, config.image_size), config.seed)
    clip = bundle.model
    base_state = (
        {name: value.detach().clone() for name, value in clip.state_dict().items()}
        if config.wise_ft_alpha < 1.0
        else {}
    )
    _lock_towers(clip, config)

    dataset, symbols = _training_data(config, bundle, recipe.needs_symbols)
    features = _image_features(config, bundle, clip, reporter, dataset, recipe.needs_symbols)
    if features is not None:
        dataset.use_image_features(features[0])
    objective = build_objective(
        config.recipe,
        clip,
        symbols=symbols,
        region_weight=config.region_weight,
        stage_two_fraction=config.galaxalign_stage2_fraction,
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=True,
        # Decoding and augmenting in a worker process (one torch thread there) overlaps the
        # step; in the training process, many small tensor ops wait on its thread pool.
        num_workers=config.loader_workers,
        multiprocessing_context=loader_context() if config.loader_workers else None,
        collate_fn=Collate(
            bundle.tokenizer,
            with_regions=recipe.needs_regions,
            trim_text=can_trim_padding(clip),
        ),
    )
    optimizer = torch.optim.AdamW(
        _param_groups(objective, config.weight_decay, config.lr, config.trunk_lr_scale),
        lr=config.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
        # One fused kernel per step over all tensors (CPU and CUDA) instead of a loop of
        # elementwise ops per parameter.
        fused=True,
    )
    objective.train()
    if accelerator.num_processes > 1:
        _unscale_temperature_gradient(objective.clip.logit_scale, accelerator.num_processes)
    objective, optimizer, loader = accelerator.prepare(objective, optimizer, loader)

    steps_per_epoch = len(loader) // config.grad_accum
    if steps_per_epoch == 0:
        raise ValueError(
            f"{len(dataset)} training rows cannot fill one step of "
            f"{config.batch_size} x {accelerator.num_processes} processes x "
            f"{config.grad_accum} accumulation; lower batch_size"
        )
    total_steps = config.max_steps or config.epochs * steps_per_epoch
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, min(config.warmup_steps, total_steps // 2), total_steps
    )
    progress = Progress()
    resumed = _resume(accelerator, config, progress, scheduler, reporter)

    accelerator.init_trackers(config.recipe, config=_tracker_config(config))
    reporter.info(
        f"{config.recipe}: {len(dataset)} pairs, {total_steps} steps of "
        f"{config.batch_size * accelerator.num_processes * config.grad_accum} samples "
        f"on {accelerator.num_processes} x {accelerator.device}"
    )
    bar = tqdm(
        total=total_steps,
        initial=progress.step,
        desc=config.recipe,
        disable=not accelerator.is_main_process,
    )
    core: ClipObjective = accelerator.unwrap_model(objective)
    started, samples_at_start, loss = time.perf_counter(), progress.samples, float("nan")
    while progress.step < total_steps:
        if features is not None:
            store, compute = features
            with accelerator.main_process_first():  # the main process computes, the rest read
                store.ensure(progress.epoch, compute)
        start_epoch(loader, progress.epoch)
        batches = accelerator.skip_first_batches(loader, progress.batches_in_epoch)
        for batch in batches:
            core.before_step(progress.step, total_steps)
            with accelerator.accumulate(objective):
                parts = objective(batch)
                # Every process computes the loss of the whole gathered batch but only its own
                # samples carry gradient; DDP averages, so scale back to the global gradient.
                accelerator.backward(parts["loss"] * accelerator.num_processes)
                if accelerator.sync_gradients and config.grad_clip:
                    accelerator.clip_grad_norm_(objective.parameters(), config.grad_clip)
                optimizer.step()
                optimizer.zero_grad()
            progress.batches_in_epoch += 1
            progress.samples += len(batch["labels"]) * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue
            scheduler.step()
            progress.step += 1
            bar.update(1)
            if progress.step % config.log_every == 0 or progress.step == total_steps:
                rate = (progress.samples - samples_at_start) / (time.perf_counter() - started)
                loss = _log(accelerator, config, progress, parts, scheduler, rate, reporter)
                bar.set_postfix(loss=f"{loss:.4f}", samples_per_s=f"{rate:.1f}")
            if progress.step % config.checkpoint_every == 0 or progress.step == total_steps:
                _save(accelerator, config, progress, scheduler)
            if progress.step >= total_steps:
                break
        else:
            progress.epoch += 1
            progress.batches_in_epoch = 0
    bar.close()
    seconds = time.perf_counter() - started
    accelerator.wait_for_everyone()
    result = TrainResult(
        steps=progress.step,
        final_loss=loss,
        samples_per_second=(progress.samples - samples_at_start) / max(seconds, 1e-9),
        seconds=seconds,
        resumed_from_step=resumed,
        export_dir=str(config.export_dir),
        weights_sha256="",
    )
    if accelerator.is_main_process:
        result = _export(core, bundle, base_state, config, result, len(dataset))
    accelerator.end_training()
    return result


def _training_data(
    config: TrainConfig, bundle, with_symbol: bool
) -> tuple[PairsDataset, tuple | None]:
    """The training rows (from the lake, or its Arrow file copy) and, ``with_symbol``, only the
    rows whose class has a symbol, with the symbols."""
    dataset = _pairs(config, bundle, with_symbol)
    if not with_symbol:
        return dataset, None
    from cosmoalign.lake import Lake  # pylance: only where the lake is read

    symbols = symbol_images(Lake(config.lake_root), config.partition, bundle.preprocess_val)
    return dataset, symbols


def _pairs(config: TrainConfig, bundle, with_symbol: bool) -> PairsDataset:
    """The train split of ``training_pairs`` (only rows with a class symbol: ``with_symbol``)."""
    options = {
        "preprocess": bundle.preprocess_val,
        "augment": config.augment,
        "seed": config.seed,
        "max_regions": config.max_regions_per_image,
        "short_caption_rate": config.short_caption_rate,
    }
    if config.pairs_file:
        return PairsDataset.from_arrow_file(config.pairs_file, with_symbol=False, **options)
    from cosmoalign.lake import Lake

    lake = Lake(config.lake_root)
    return PairsDataset.from_lake(lake, config.partition, with_symbol=with_symbol, **options)


def _image_features(
    config: TrainConfig,
    bundle,
    clip: torch.nn.Module,
    reporter: Reporter,
    training_rows: PairsDataset,
    subset: bool,
) -> tuple[ImageFeatureStore, Callable[[int], EpochFeatures]] | None:
    """Where this run's stored image features live and how to compute an epoch's, when the
    image side is frozen whole; None when it trains (or the config turns storing off).

    The features cover the whole train split, so every recipe of the dataset shares them: the
    ``training_rows`` themselves (a copy, which keeps its pixels when training switches to
    features), or the split read apart when they are a ``subset`` of it."""
    if not (config.cache_image_features and image_side_frozen(clip)):
        return None
    rows = _pairs(config, bundle, with_symbol=False) if subset else copy(training_rows)
    folder = Path(config.image_feature_dir or Path(config.run_dir) / "image_features")
    store = ImageFeatureStore(folder / feature_key(bundle, rows.identity("train")))
    loader = torch.utils.data.DataLoader(
        rows,
        batch_size=2 * config.batch_size,
        num_workers=config.loader_workers,
        multiprocessing_context=loader_context() if config.loader_workers else None,
        collate_fn=Collate(bundle.tokenizer, with_regions=True, with_texts=False),
    )
    return store, partial(compute_epoch_features, clip, loader, log=reporter.info)


_PROJECTIONS = ("visual.proj", "visual.head.proj", "text.proj", "text_projection")
_TEXT_TRUNK = ("text.", "transformer.", "token_embedding", "positional_embedding", "ln_final")


def _lock_towers(clip: torch.nn.Module, config: TrainConfig) -> None:
    """Freeze a tower's trunk (LiT); its projection into the joint space stays trainable
    unless ``lock_image_projection`` freezes the image side whole."""
    for name, param in clip.named_parameters():
        whole_image = config.lock_image and config.lock_image_projection
        if name.startswith(_PROJECTIONS) and not (whole_image and name.startswith("visual.")):
            continue
        if (config.lock_image and name.startswith("visual.")) or (
            config.lock_text and name.startswith(_TEXT_TRUNK)
        ):
            param.requires_grad_(False)


def _unscale_temperature_gradient(logit_scale: torch.nn.Parameter, world: int) -> None:
    """The loss is scaled by the world size so local features get the global gradient after
    DDP's averaging; the temperature already gets the full gradient on every rank (it scales
    the whole gathered logit matrix), so it alone is divided back."""
    logit_scale.register_hook(lambda grad: grad / world)


def _param_groups(
    model: torch.nn.Module, weight_decay: float, lr: float, trunk_lr_scale: float
) -> list[dict]:
    """The new parts (projections, temperature) at ``lr``, the pretrained trunks at
    ``lr * trunk_lr_scale``, so fine-tuning keeps what they know; no weight decay on biases,
    norms and the temperature."""
    groups: dict[tuple[bool, bool], list] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        head = "logit_scale" in name or any(f"{p}." in f".{name}." for p in _PROJECTIONS)
        groups.setdefault((head, param.ndim < 2 or "logit_scale" in name), []).append(param)
    return [
        {
            "params": params,
            "lr": lr if head else lr * trunk_lr_scale,
            "weight_decay": 0.0 if no_decay else weight_decay,
        }
        for (head, no_decay), params in sorted(groups.items())
    ]


def _resume(
    accelerator: Accelerator,
    config: TrainConfig,
    progress: Progress,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    reporter: Reporter,
) -> int:
    """Load the newest complete checkpoint, only once its files match the digests written at
    save time and its settings match ``config`` (else :class:`CheckpointError`). Model and
    optimizer load through safetensors and ``weights_only``; the trainer's state is JSON, and no
    pickled custom object is registered, so nothing in the folder is unpickled."""
    latest = newest_complete(config.checkpoint_dir)
    if latest is None:
        return 0
    state = verified_trainer_state(latest, training_settings(config, accelerator.num_processes))
    accelerator.load_state(str(latest))
    scheduler.load_state_dict(state["schedule"])
    progress.load_state_dict(state["progress"])
    reporter.info(f"resumed from checkpoint {latest.name} at step {progress.step}")
    return progress.step


def _save(
    accelerator: Accelerator,
    config: TrainConfig,
    progress: Progress,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> None:
    path = checkpoint_path(config.checkpoint_dir, progress.step)
    accelerator.save_state(str(path))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        settings = training_settings(config, accelerator.num_processes)
        write_trainer_state(path, progress, scheduler.state_dict(), settings)
        mark_complete(path)
        prune(config.checkpoint_dir, config.keep_checkpoints)


def _log(
    accelerator: Accelerator,
    config: TrainConfig,
    progress: Progress,
    parts: dict[str, torch.Tensor],
    scheduler,
    rate: float,
    reporter: Reporter,
) -> float:
    values = {name: float(value) for name, value in parts.items()}
    values |= {"lr": scheduler.get_last_lr()[0], "samples_per_second": rate}
    accelerator.log(values, step=progress.step)
    if accelerator.is_main_process:
        with config.metrics_path.open("a") as handle:
            handle.write(json.dumps({"step": progress.step, **values}) + "\n")
        reporter.info(
            f"step {progress.step}: loss {values['loss']:.4f}, {rate:.1f} samples/s, "
            f"lr {values['lr']:.2e}"
        )
    return values["loss"]


def _export(
    objective: ClipObjective,
    bundle,
    base_state: dict[str, torch.Tensor],
    config: TrainConfig,
    result: TrainResult,
    training_pairs: int,
) -> TrainResult:
    clip = objective.clip.eval()
    interpolate(clip, base_state, config.wise_ft_alpha)
    export_open_clip(clip, config.export_dir, bundle.model_cfg, f"cosmoalign-{config.recipe}")
    objective.export_extras(config.export_dir)
    digest = hashlib.sha256((config.export_dir / WEIGHTS_FILE).read_bytes()).hexdigest()
    write_model_card(config.export_dir, ModelCard.from_training(config, training_pairs, digest))
    return TrainResult(**{**asdict(result), "weights_sha256": digest})


def _tracker_config(config: TrainConfig) -> dict:
    return {
        key: value if isinstance(value, int | float | str | bool) else str(value)
        for key, value in asdict(config).items()
        if key != "extra"
    }
