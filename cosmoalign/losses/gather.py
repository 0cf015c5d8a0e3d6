"""Gathering features across processes so a contrastive batch is global (open_clip's pattern).

Every rank all-gathers the features of every other rank without gradient and puts its own
grad-carrying tensor back in its slot (open_clip's ``gather_with_grad=False, local_loss=False``).
Each rank then computes the loss of the whole global batch, and its backward pass reaches exactly
its own samples.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def rank_and_world() -> tuple[int, int]:
    """This process's rank and the world size; ``(0, 1)`` when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_features(*tensors: Tensor) -> tuple[Tensor, ...]:
    """Concatenate each tensor over all ranks along dim 0, the local one keeping its gradient.

    First dims may differ between ranks (regions per rank): sizes are gathered first and every
    tensor is padded to the largest, gathered, then cut back. Identity when not distributed.
    """
    rank, world = rank_and_world()
    if world == 1:
        return tensors
    local = torch.tensor([len(t) for t in tensors], device=tensors[0].device)
    sizes = [torch.empty_like(local) for _ in range(world)]
    dist.all_gather(sizes, local)
    per_rank = torch.stack(sizes).tolist()
    return tuple(
        _gather_one(tensor, [row[i] for row in per_rank], rank) for i, tensor in enumerate(tensors)
    )


def _gather_one(tensor: Tensor, sizes: list[int], rank: int) -> Tensor:
    longest = max(sizes)
    if longest == 0:
        return tensor
    padded = _pad_rows(tensor.detach(), longest).contiguous()
    slots = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(slots, padded)
    parts = [slot[:size] for slot, size in zip(slots, sizes, strict=True)]
    parts[rank] = tensor
    return torch.cat(parts)


def _pad_rows(tensor: Tensor, rows: int) -> Tensor:
    """``tensor`` with zero rows appended along dim 0 up to ``rows``."""
    return torch.cat([tensor, tensor.new_zeros((rows - len(tensor), *tensor.shape[1:]))])
