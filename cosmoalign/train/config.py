"""Hyperparameters of one fine-tuning run, as a JSON-serialisable dataclass.

The Dagster asset writes this file and ``accelerate launch -m cosmoalign.train --config`` reads
it, so a run on a GPU box needs nothing but the JSON and the lake.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

RECIPES = ("cosmoclip", "galaxalign", "grain")


@dataclass
class TrainConfig:
    """Everything a training run needs; defaults are the demo profile (a 2-core CPU)."""

    recipe: str
    lake_root: str
    partition: str
    run_dir: str
    """Local folder for checkpoints, TensorBoard logs, metrics and the exported model."""
    pairs_file: str | None = None
    """Train from this Arrow IPC copy of ``training_pairs`` (``write_arrow_file``) instead of
    the lake: a training box with torch and open_clip but no pylance; cosmoclip and grain."""
    arch: str = "offline-default"
    pretrained: str | None = None
    image_size: int | None = None
    epochs: int = 2
    max_steps: int | None = None
    """Stop after this many optimizer steps (None: run ``epochs`` full epochs)."""
    batch_size: int = 32
    """Per-process micro-batch; the contrastive batch is gathered over all processes."""
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 10
    mixed_precision: str = "no"
    lock_text: bool = True
    """Freeze the text tower (only its projection trains). Measured on the four-class real set
    to lose nothing against a text trunk at ``trunk_lr_scale`` (docs/decisions.md), at half the
    step time: each distinct caption's trunk features are computed once."""
    lock_image: bool = True
    """Freeze the image tower, batch-norm statistics included (LiT; only its projection
    trains): measured to keep, even raise, the base's linear probe on real galaxies."""
    lock_image_projection: bool = True
    """With ``lock_image``, freeze the image projection too (LiT proper): the export's image
    embeddings are the base's exactly, so its linear probe cannot fall below the base's; only
    the text side and the temperature train. Measured on the four-class real set (cosmoclip,
    2 epochs, whole / framed): zero-shot 0.562 / 0.633 against 0.597 / 0.585 with a trained
    projection, whose probe moved by noise (and fell for galaxalign)."""
    trunk_lr_scale: float = 0.1
    """Learning rate of the pretrained tower trunks as a fraction of ``lr`` (the projections and
    the temperature, which start from scratch, train at ``lr``)."""
    wise_ft_alpha: float = 1.0
    """WiSE-FT: exported weights are ``(1 - a) * base + a * fine-tuned``; 1.0 keeps fine-tuned."""
    cache_image_features: bool = True
    """With the image side frozen whole, compute each row's image features once per epoch and
    train on them (:mod:`cosmoalign.train.image_features`) instead of encoding pixels each step."""
    image_feature_dir: str | None = None
    """Where stored image features live (default ``<run_dir>/image_features``); runs that share
    it (the recipes of one dataset) compute each epoch's features once between them."""
    loader_workers: int = 1
    """Data-loading worker processes (0: load in the training process)."""
    short_caption_rate: float = 0.5
    """With ``augment``: how often a sample's caption is cut to its first sentence (the galaxy's
    type or label text), the short phrases zero-shot prompts resemble."""
    augment: bool = True
    """Random flips and quarter turns of images (and their region boxes)."""
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    log_every: int = 5
    seed: int = 0
    galaxalign_stage2_fraction: float = 0.5
    """Fraction of the steps (the last ones) in which symbols get their own encoder."""
    region_weight: float = 0.5
    """Weight of GRAIN's region loss next to the global caption loss."""
    max_regions_per_image: int = 6
    grad_clip: float = 1.0
    export_to: str | None = None
    """Where to write the exported model (default ``<run_dir>/export``)."""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise ValueError(f"recipe must be one of {RECIPES}, got {self.recipe!r}")
        if not 0.0 <= self.wise_ft_alpha <= 1.0:
            raise ValueError(f"wise_ft_alpha must be in [0, 1], got {self.wise_ft_alpha}")
        if self.pairs_file and self.recipe == "galaxalign":
            raise ValueError("pairs_file: galaxalign reads its class symbols from the lake")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision must be no, bf16 or fp16: {self.mixed_precision!r}")

    @property
    def export_dir(self) -> Path:
        """Where the open_clip-loadable model is written."""
        return Path(self.export_to) if self.export_to else Path(self.run_dir) / "export"

    @property
    def checkpoint_dir(self) -> Path:
        """Where ``save_state`` checkpoints go, one folder per step."""
        return Path(self.run_dir) / "checkpoints"

    @property
    def metrics_path(self) -> Path:
        """JSON lines of logged metrics (main process only)."""
        return Path(self.run_dir) / "metrics.jsonl"

    def to_json(self, path: str | Path) -> None:
        """Write the config as JSON."""
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def from_json(cls, path: str | Path) -> TrainConfig:
        """Read a config, naming the file and field when one is unknown."""
        data = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown training config fields {unknown}")
        return cls(**data)
