"""GRAIN's loss: global caption alignment plus region embeddings matched to region texts."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cosmoalign.losses.gather import gather_features
from cosmoalign.losses.infonce import LossParts, info_nce


def pool_regions(token_grid: Tensor, boxes: Tensor, image_index: Tensor) -> Tensor:
    """L2-normalised mean of the grid cells whose centres lie inside each box, ``(R, E)``.

    ``token_grid`` is ``(B, E, h, w)``; ``boxes`` ``(R, 4)`` are normalised ``x0, y0, x1, y1``
    (edges inclusive) on image ``image_index`` ``(R,)``. A box holding no cell centre takes the
    cell under its centre. One weight matrix over all cells of the batch, one matmul.
    """
    batch, dim, height, width = token_grid.shape
    dtype, device = token_grid.dtype, token_grid.device
    ys = (torch.arange(height, device=device, dtype=dtype) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=dtype) + 0.5) / width
    x0, y0, x1, y1 = boxes.to(dtype).unbind(dim=1)
    inside_y = (ys >= y0[:, None]) & (ys <= y1[:, None])
    inside_x = (xs >= x0[:, None]) & (xs <= x1[:, None])
    mask = (inside_y[:, :, None] & inside_x[:, None, :]).flatten(1).to(dtype)
    row = (((y0 + y1) / 2 * height).long()).clamp(0, height - 1)
    col = (((x0 + x1) / 2 * width).long()).clamp(0, width - 1)
    centre = F.one_hot(row * width + col, height * width).to(dtype)
    mask = torch.where(mask.sum(dim=1, keepdim=True) > 0, mask, centre)
    weights = torch.zeros(len(boxes), batch, height * width, dtype=dtype, device=device)
    weights[torch.arange(len(boxes), device=device), image_index] = mask / mask.sum(1, keepdim=True)
    tokens = token_grid.flatten(2).transpose(1, 2).reshape(batch * height * width, dim)
    return F.normalize(weights.flatten(1) @ tokens, dim=-1)


class GrainLoss(nn.Module):
    """Global caption InfoNCE plus ``region_weight`` times InfoNCE over every region.

    Regions are gathered from every rank (counts may differ). ``region_groups`` are ids of
    identical region texts, so duplicates count as positives. With no region on any rank the
    region part is a zero that keeps the local region tensors in the graph.
    """

    def __init__(self, region_weight: float = 0.5) -> None:
        super().__init__()
        self.region_weight = region_weight

    def forward(
        self,
        image: Tensor,
        text: Tensor,
        logit_scale: Tensor,
        region_image: Tensor,
        region_text: Tensor,
        region_groups: Tensor | None = None,
    ) -> LossParts:
        """``total``, ``global`` and ``region``, each the same on every rank."""
        optional = () if region_groups is None else (region_groups,)
        image, text, regions, texts, *groups = gather_features(
            image, text, region_image, region_text, *optional
        )
        global_part = info_nce(image, text, logit_scale)
        if len(regions) == 0:
            region = (region_image.sum() + region_text.sum()) * 0.0
        else:
            region = info_nce(regions, texts, logit_scale, *groups)
        total = global_part + self.region_weight * region
        return {"total": total, "global": global_part, "region": region}
