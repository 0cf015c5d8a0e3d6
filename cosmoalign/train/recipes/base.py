"""What every recipe's objective shares: the CLIP model wrapped as one module (so one
``forward`` runs under DDP and gradients sync), its encoders, temperature and training mode, and
the hooks a recipe may fill in."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cosmoalign.losses import LossParts
from cosmoalign.train.text_encoding import (
    encode_text,
    keep_text_trunk_in_eval,
    locked_text_features,
)

MAX_LOGIT_SCALE = 100.0


class ClipObjective(nn.Module):
    """A batch in, named loss parts out (``loss`` is the total); subclasses define ``forward``."""

    needs_symbols = False
    """Trains on the rows whose class has a symbol, and needs the symbols (GalaxAlign); its
    symbol encoder is unused until stage two, so DDP must allow unused parameters."""
    needs_regions = False
    """Batches carry region boxes (or region features) and region texts (GRAIN)."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.clip = clip
        self.text_features = None

    def forward(self, batch: dict[str, torch.Tensor]) -> LossParts:
        raise NotImplementedError

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


def detach_parts(parts) -> LossParts:
    """Loss parts as a dict: ``loss`` keeps its graph, the parts are detached for logging."""
    values = parts if isinstance(parts, dict) else vars(parts)
    out = {name: value.detach() for name, value in values.items() if name != "total"}
    out["loss"] = values["total"]
    return out


def _keep_frozen_batch_norms_in_eval(clip: nn.Module) -> None:
    """Batch norms whose parameters are frozen (a locked tower) keep their running statistics."""
    for module in clip.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            params = list(module.parameters())
            if params and not any(p.requires_grad for p in params):
                module.eval()
