"""Symmetric InfoNCE (CLIP's contrastive loss), with optional groups of shared positives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cosmoalign.losses.gather import gather_features

LossParts = dict[str, Tensor]
"""Named loss values: ``total`` (with its graph) and the parts the trainer logs."""


def info_nce(a: Tensor, b: Tensor, logit_scale: Tensor, groups: Tensor | None = None) -> Tensor:
    """Symmetric InfoNCE of paired L2-normalised features ``(N, E)`` on this process alone.

    Without ``groups`` row ``i`` of ``a`` matches row ``i`` of ``b``. With ``groups`` (N,) ids,
    every pair with equal ids is a positive and the targets of a row are uniform over its
    positives (soft-target cross-entropy).
    """
    logits = logit_scale * a @ b.T
    if groups is None:
        targets: Tensor = torch.arange(len(a), device=a.device)
    else:
        same = (groups[:, None] == groups[None, :]).to(logits.dtype)
        targets = same / same.sum(dim=1, keepdim=True)  # ``same`` is symmetric: fits both ways
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


class InfoNCELoss(nn.Module):
    """Symmetric InfoNCE over the global batch: features are gathered from every process.

    Every rank computes the same value, the single-process loss of the whole global batch;
    gradients reach only the local features.
    """

    def forward(
        self, a: Tensor, b: Tensor, logit_scale: Tensor, groups: Tensor | None = None
    ) -> Tensor:
        if groups is None:
            a, b = gather_features(a, b)
        else:
            a, b, groups = gather_features(a, b, groups)
        return info_nce(a, b, logit_scale, groups)
