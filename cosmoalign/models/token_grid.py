"""Per-location image features in the joint embedding space, for region pooling (GRAIN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.timm_model import TimmModel
from open_clip.transformer import VisionTransformer
from torch import nn

PROJECTION_HEADS = frozenset({"proj", "mlp"})


def image_token_grid(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``(B, E, h, w)`` features of ``images`` per location, projected like the global embedding.

    timm towers: the trunk's feature map through the tower's projection head at every location
    (with average pooling, their mean is the unnormalised ``encode_image``). ViT towers: the
    patch tokens after ``ln_post``, times ``proj`` (patch dropout must be off).
    """
    visual = model.visual
    if isinstance(visual, TimmModel):
        return _timm_grid(visual, images)
    if isinstance(visual, VisionTransformer):
        return _vit_grid(visual, images)
    raise TypeError(f"no token grid for image tower {type(visual).__name__}")


def has_token_grid(model: nn.Module) -> bool:
    """Whether :func:`image_token_grid` can read ``model``'s image tower."""
    visual = model.visual
    if isinstance(visual, TimmModel):
        return _projects_each_location(visual)
    return isinstance(visual, VisionTransformer) and visual.attn_pool is None


def _projects_each_location(visual: TimmModel) -> bool:
    heads = set(visual.head._modules)
    return bool(PROJECTION_HEADS & heads) and "pool" not in heads


def _timm_grid(visual: TimmModel, images: torch.Tensor) -> torch.Tensor:
    if not _projects_each_location(visual):
        raise ValueError("token grids need a timm tower with a linear or mlp head and no attn pool")
    if any(p.requires_grad for p in visual.trunk.parameters()):
        feature_map = visual.trunk.forward_features(images)
    else:  # a locked trunk: no autograd, channels-last convolutions (faster on CPU)
        with torch.no_grad():
            feature_map = visual.trunk.forward_features(
                images.contiguous(memory_format=torch.channels_last)
            )
    return visual.head(feature_map.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _vit_grid(visual: VisionTransformer, images: torch.Tensor) -> torch.Tensor:
    if visual.attn_pool is not None:
        raise ValueError("token grids need a ViT tower without attentional pooling")
    tokens = visual.ln_post(visual.transformer(visual._embeds(images)))[:, 1:]
    if visual.proj is not None:
        tokens = tokens @ visual.proj
    height = images.shape[-2] // visual.patch_size[0]
    width = images.shape[-1] // visual.patch_size[1]
    return tokens.reshape(images.shape[0], height, width, -1).permute(0, 3, 1, 2)


def image_embedding_and_grid(
    model: nn.Module, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalised global image embedding and the token grid.

    One pass through the tower when its global embedding is the mean of its grid (a timm tower
    with average pooling and a linear projection); two passes otherwise (ViT: the class token).
    """
    grid = image_token_grid(model, images)
    visual = model.visual
    if isinstance(visual, TimmModel) and "proj" in visual.head._modules:
        return F.normalize(grid.mean(dim=(2, 3)), dim=-1), grid
    return model.encode_image(images, normalize=True), grid
