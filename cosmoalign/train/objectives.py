"""The three recipes as modules: a batch in, named loss parts out (``loss`` is the total).

Each objective wraps the CLIP model so one ``forward`` runs under DDP and gradients sync.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from cosmoalign.losses import GrainLoss, InfoNCELoss, LossParts, TriModalLoss, pool_regions
from cosmoalign.models import image_embedding_and_grid
from cosmoalign.train.text_encoding import (
    encode_text,
    keep_text_trunk_in_eval,
    locked_text_features,
)

MAX_LOGIT_SCALE = 100.0


class ClipObjective(nn.Module):
    """CosmoCLIP: symmetric InfoNCE between images and their captions."""

    needs_symbols = False
    """Trains on the rows whose class has a symbol, and needs the symbols (GalaxAlign); its
    symbol encoder is unused until stage two, so DDP must allow unused parameters."""
    needs_regions = False
    """Batches carry region boxes (or region features) and region texts (GRAIN)."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.clip = clip
        self.loss = InfoNCELoss()
        self.text_features = None

    def train(self, mode: bool = True) -> ClipObjective:
        """Train mode, with locked trunks kept in eval mode: frozen batch norms keep their
        statistics, a frozen text trunk runs without dropout and its caption features are
        computed once per distinct caption (:class:`LockedTextFeatures`)."""
        super().train(mode)
        if mode:
            _keep_frozen_batch_norms_in_eval(self.clip)
            keep_text_trunk_in_eval(self.clip)
        self.text_features = locked_text_features(self.clip) if mode else None
        return self

    def before_step(self, step: int, total_steps: int) -> None:
        """Called before each optimizer step; a recipe with stages changes stage here."""

    def export_extras(self, folder: Path) -> None:
        """Write what the recipe trains besides the CLIP model into the export ``folder``."""

    def logit_scale(self) -> torch.Tensor:
        """The learnable temperature, clamped as CLIP does."""
        return self.clip.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised image embeddings; a locked timm trunk runs without autograd, on
        channels-last input (faster convolutions on CPU), and only its head is traced."""
        visual = self.clip.visual
        trunk = getattr(visual, "trunk", None)
        if trunk is None or any(p.requires_grad for p in trunk.parameters()):
            return self.clip.encode_image(images, normalize=True)
        with torch.no_grad():
            features = trunk(images.contiguous(memory_format=torch.channels_last))
        return F.normalize(visual.head(features), dim=-1)

    def image_embeddings(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The batch's stored image features (a frozen image side), else its images encoded."""
        if "image_features" in batch:
            return batch["image_features"]
        return self.encode_image(batch["images"])

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """Normalised text embeddings computed on the real tokens only (exact); a locked trunk's
        features come from the caption cache."""
        if self.text_features is not None:
            return self.text_features(tokens)
        return encode_text(self.clip, tokens)

    def forward(self, batch: dict[str, torch.Tensor]) -> LossParts:
        image = self.image_embeddings(batch)
        text = self.encode_text(batch["texts"])
        loss = self.loss(image, text, self.logit_scale())
        return {"loss": loss, "image_text": loss.detach()}


class GalaxAlignObjective(ClipObjective):
    """GalaxAlign: image-text, symbol-text and image-symbol alignment in two stages.

    Stage 1 encodes symbols with the shared image encoder; stage 2 starts by copying it into a
    separate symbol encoder that trains from there. The stage lives in a buffer, so a resumed
    run continues in the right one.
    """

    needs_symbols = True

    def __init__(
        self,
        clip: nn.Module,
        symbols: torch.Tensor,
        symbol_labels: torch.Tensor,
        stage_two_fraction: float = 0.5,
    ):
        super().__init__(clip)
        self.stage_two_fraction = stage_two_fraction
        self.loss = TriModalLoss()
        self.symbol_encoder = copy.deepcopy(clip.visual)
        self.register_buffer("symbols", symbols, persistent=False)
        self.register_buffer("symbol_labels", symbol_labels, persistent=False)
        self.register_buffer("stage", torch.tensor(1))

    def before_step(self, step: int, total_steps: int) -> None:
        """Enter stage two for the last ``stage_two_fraction`` of the steps."""
        if step >= math.floor(total_steps * (1 - self.stage_two_fraction)):
            self.enter_stage_two()

    def export_extras(self, folder: Path) -> None:
        """The symbol encoder as ``symbol_encoder.safetensors``."""
        state = {k: v.contiguous() for k, v in self.symbol_encoder.state_dict().items()}
        save_file(state, str(folder / "symbol_encoder.safetensors"))

    def enter_stage_two(self) -> None:
        """Give symbols their own encoder, initialised from the image encoder (once)."""
        if int(self.stage) == 2:
            return
        with torch.no_grad():
            self.symbol_encoder.load_state_dict(self.clip.visual.state_dict())
        self.stage.fill_(2)

    def forward(self, batch: dict[str, torch.Tensor]) -> LossParts:
        image = self.image_embeddings(batch)
        text = self.encode_text(batch["texts"])
        encoder = self.symbol_encoder if int(self.stage) == 2 else self.clip.visual
        per_class = F.normalize(encoder(self.symbols), dim=-1)
        index = _positions(self.symbol_labels, batch["labels"])
        parts = self.loss(image, text, per_class[index], self.logit_scale(), batch["labels"])
        return _detach_parts(parts)


class GrainObjective(ClipObjective):
    """GRAIN: global caption alignment plus region embeddings matched to region descriptions."""

    needs_regions = True

    def __init__(self, clip: nn.Module, region_weight: float) -> None:
        super().__init__(clip)
        self.loss = GrainLoss(region_weight=region_weight)

    def forward(self, batch: dict[str, torch.Tensor]) -> LossParts:
        if "image_features" in batch:
            image, region_image = batch["image_features"], batch["region_features"]
        else:
            image, grid = image_embedding_and_grid(self.clip, batch["images"])
            region_image = pool_regions(grid, batch["region_boxes"], batch["region_owner"])
        text = self.encode_text(batch["texts"])
        region_text = self.encode_text(batch["region_texts"])
        parts = self.loss(
            image,
            text,
            self.logit_scale(),
            region_image,
            region_text,
            batch["region_groups"],
        )
        return _detach_parts(parts)


OBJECTIVES: dict[str, type[ClipObjective]] = {
    "cosmoclip": ClipObjective,
    "galaxalign": GalaxAlignObjective,
    "grain": GrainObjective,
}
"""Each recipe's objective: what it optimises and (``needs_*``) the data it needs."""


def build_objective(
    recipe: str,
    clip: nn.Module,
    *,
    symbols: tuple[torch.Tensor, torch.Tensor] | None = None,
    region_weight: float = 0.5,
    stage_two_fraction: float = 0.5,
) -> ClipObjective:
    """The objective module of a recipe around a CLIP model."""
    objective = OBJECTIVES.get(recipe)
    if objective is None:
        raise ValueError(f"unknown recipe {recipe!r}")
    if objective.needs_symbols:
        if symbols is None:
            raise ValueError(f"{recipe} needs the class symbols")
        return objective(clip, *symbols, stage_two_fraction)
    if objective.needs_regions:
        return objective(clip, region_weight)
    return objective(clip)


def _keep_frozen_batch_norms_in_eval(clip: nn.Module) -> None:
    """Batch norms whose parameters are frozen (a locked tower) keep their running statistics."""
    for module in clip.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters())
            if params and not any(p.requires_grad for p in params):
                module.eval()


def _positions(keys: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Index of each query value in ``keys`` (every label must have a symbol)."""
    match = queries[:, None] == keys[None, :]
    if not bool(match.any(dim=1).all()):
        missing = sorted(set(queries.tolist()) - set(keys.tolist()))
        raise ValueError(f"labels {missing} have no symbol in the symbols table")
    return match.float().argmax(dim=1)


def _detach_parts(parts) -> LossParts:
    """Loss parts as a dict: ``loss`` keeps its graph, the parts are detached for logging."""
    values = parts if isinstance(parts, dict) else vars(parts)
    out = {name: value.detach() for name, value in values.items() if name != "total"}
    out["loss"] = values["total"]
    return out
