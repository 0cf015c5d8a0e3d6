"""Two real processes (gloo) each holding half of a fixed global batch match one process."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import Tensor

from cosmoalign.losses import (
    GrainLoss,
    InfoNCELoss,
    TriModalLoss,
    gather_features,
    rank_and_world,
)

WORLD, DIM, EMBED = 2, 5, 4
Call = Callable[[list[Tensor], Tensor], dict[str, Tensor]]


def _cases() -> dict[str, tuple[Call, list[tuple[Tensor, tuple[int, int]]]]]:
    """Per case: how to call the loss, and each global input with its rows per rank."""
    gen = torch.Generator().manual_seed(0)

    def raw(rows: int) -> Tensor:
        return torch.randn(rows, DIM, generator=gen, dtype=torch.float64)

    halves = (3, 3)
    labels = torch.tensor([0, 1, 0, 2, 1, 0])  # duplicates within and across ranks
    infonce, trimodal, grain = InfoNCELoss(), TriModalLoss(1.0, 0.5, 2.0), GrainLoss(0.3)
    return {
        "infonce": (
            lambda x, s: {"total": infonce(x[0], x[1], s)},
            [(raw(6), halves), (raw(6), halves)],
        ),
        "infonce_groups": (
            lambda x, s: {"total": infonce(x[0], x[1], s, x[2])},
            [(raw(6), halves), (raw(6), halves), (labels, halves)],
        ),
        "trimodal": (
            lambda x, s: trimodal(x[0], x[1], x[2], s, x[3]),
            [(raw(6), halves), (raw(6), halves), (raw(6), halves), (labels, halves)],
        ),
        "grain": (
            lambda x, s: grain(x[0], x[1], s, x[2], x[3], x[4]),
            [
                (raw(4), (2, 2)),
                (raw(4), (2, 2)),
                (raw(5), (4, 1)),
                (raw(5), (4, 1)),
                (torch.tensor([3, 1, 3, 0, 1]), (4, 1)),
            ],
        ),
        "grain_no_regions_on_one_rank": (
            lambda x, s: grain(x[0], x[1], s, x[2], x[3]),
            [(raw(4), (2, 2)), (raw(4), (2, 2)), (raw(3), (3, 0)), (raw(3), (3, 0))],
        ),
    }


def _run(call: Call, inputs: list[Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Loss parts and gradients; float inputs go through a shared projection and normalisation."""
    projection = torch.linspace(-1, 1, DIM * EMBED, dtype=torch.float64).reshape(DIM, EMBED)
    projection.requires_grad_()
    log_scale = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    leaves = [t.clone().requires_grad_() if t.is_floating_point() else t for t in inputs]
    features = [F.normalize(t @ projection, dim=-1) if t.is_floating_point() else t for t in leaves]
    parts = call(features, log_scale.exp())
    parts["total"].backward()
    grads = {f"input_{i}": t.grad for i, t in enumerate(leaves) if t.is_floating_point()}
    grads |= {"projection": projection.grad, "log_scale": log_scale.grad}
    return {name: value.detach() for name, value in parts.items()}, grads


def _local(tensor: Tensor, counts: tuple[int, int], rank: int) -> Tensor:
    start = sum(counts[:rank])
    return tensor[start : start + counts[rank]]


def _worker(rank: int, port: int) -> None:
    cases = _cases()
    expected = {name: _run(call, [t for t, _ in inputs]) for name, (call, inputs) in cases.items()}
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD,
        timeout=timedelta(seconds=30),
    )
    try:
        assert rank_and_world() == (rank, WORLD)
        for name, (call, inputs) in cases.items():
            parts, grads = _run(call, [_local(t, counts, rank) for t, counts in inputs])
            want_parts, want_grads = expected[name]
            assert parts.keys() == want_parts.keys(), name
            for part, value in parts.items():
                assert torch.allclose(value, want_parts[part]), (name, part)
            # Every rank computes the whole global loss with the other ranks' features as
            # constants, so the gradient on local features is exactly the single-process
            # gradient restricted to the local rows (factor 1, no 1/world).
            float_inputs = [(t, c) for t, c in inputs if t.is_floating_point()]
            for i, (_, counts) in enumerate(float_inputs):
                want = _local(want_grads[f"input_{i}"], counts, rank)
                assert torch.allclose(grads[f"input_{i}"], want), (name, i)
            # A shared parameter upstream of the features collects one share per rank: the
            # sum over ranks is the single-process gradient, so DDP's mean is 1/world of it
            # (the trainer multiplies the loss by the world size to undo that).
            dist.all_reduce(grads["projection"])
            assert torch.allclose(grads["projection"], want_grads["projection"]), name
            # The logit scale multiplies every logit, gathered or local: each rank already
            # holds the full single-process gradient, so DDP's mean keeps it as it is.
            assert torch.allclose(grads["log_scale"], want_grads["log_scale"]), name
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_match_one_process_on_the_global_batch():
    # Spawned, not forked: a child forked after the parent ran autograd can deadlock.
    mp.spawn(_worker, args=(_free_port(),), nprocs=WORLD, join=True)


def test_gathering_is_the_identity_without_a_process_group():
    a, b = torch.randn(3, 2), torch.arange(3)
    assert rank_and_world() == (0, 1)
    gathered = gather_features(a, b)
    assert gathered[0] is a and gathered[1] is b
