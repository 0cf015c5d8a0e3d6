"""CosmoCLIP: symmetric InfoNCE between images and their (BLIP-enriched) captions; it needs
only image-caption pairs and exports only the CLIP model."""

from __future__ import annotations

import torch
from torch import nn

from cosmoalign.losses import InfoNCELoss, LossParts
from cosmoalign.train.recipes.base import ClipObjective


class CosmoClipObjective(ClipObjective):
    """Symmetric InfoNCE over the batch's image and caption embeddings."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__(clip)
        self.loss = InfoNCELoss()

    def forward(self, batch: dict[str, torch.Tensor]) -> LossParts:
        image = self.image_embeddings(batch)
        text = self.encode_text(batch["texts"])
        loss = self.loss(image, text, self.logit_scale())
        return {"loss": loss, "image_text": loss.detach()}
