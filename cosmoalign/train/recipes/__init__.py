"""The recipes, one module each: its objective (a batch in, named loss parts out), the data it
needs (``needs_symbols``, ``needs_regions``) and what it exports besides the CLIP model
(``export_extras``). The training loop names no recipe; it asks :data:`OBJECTIVES`."""

from __future__ import annotations

import torch
from torch import nn

from cosmoalign.train.recipes.base import ClipObjective
from cosmoalign.train.recipes.cosmoclip import CosmoClipObjective
from cosmoalign.train.recipes.galaxalign import GalaxAlignObjective
from cosmoalign.train.recipes.grain import GrainObjective

OBJECTIVES: dict[str, type[ClipObjective]] = {
    "cosmoclip": CosmoClipObjective,
    "galaxalign": GalaxAlignObjective,
    "grain": GrainObjective,
}
"""Each recipe's objective, by the name of :data:`cosmoalign.train.config.RECIPES`."""


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


__all__ = [
    "OBJECTIVES",
    "ClipObjective",
    "CosmoClipObjective",
    "GalaxAlignObjective",
    "GrainObjective",
    "build_objective",
]
