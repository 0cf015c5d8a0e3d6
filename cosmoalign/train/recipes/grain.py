"""GRAIN: global caption alignment plus region embeddings (pooled from the image's token grid)
matched to region descriptions; it needs region boxes and texts and exports only the CLIP
model."""

from __future__ import annotations

import torch
from torch import nn

from cosmoalign.losses import GrainLoss, LossParts, pool_regions
from cosmoalign.models import image_embedding_and_grid
from cosmoalign.train.recipes.base import ClipObjective, detach_parts


class GrainObjective(ClipObjective):
    """Caption InfoNCE plus region-description alignment, weighted by ``region_weight``."""

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
        return detach_parts(parts)
