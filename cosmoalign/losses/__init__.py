"""Contrastive losses of the three recipes, with distributed gathering inside the loss."""

from cosmoalign.losses.galaxalign import TriModalLoss
from cosmoalign.losses.gather import gather_features, rank_and_world
from cosmoalign.losses.grain import GrainLoss, pool_regions
from cosmoalign.losses.infonce import InfoNCELoss, LossParts, info_nce

__all__ = [
    "GrainLoss",
    "InfoNCELoss",
    "LossParts",
    "TriModalLoss",
    "gather_features",
    "info_nce",
    "pool_regions",
    "rank_and_world",
]
