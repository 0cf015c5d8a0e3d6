"""Region pooling and the GRAIN loss against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from cosmoalign.losses import GrainLoss, pool_regions

# Two images on a 2x2 grid (cell centres at 0.25 and 0.75), E = 2; cell (row, col) -> feature.
CELLS = [
    {(0, 0): (2.0, 4.0), (0, 1): (100.0, 0.0), (1, 0): (4.0, 4.0), (1, 1): (0.0, 3.0)},
    {(0, 0): (1.0, 0.0), (0, 1): (3.0, 0.0), (1, 0): (0.0, 2.0), (1, 1): (0.0, 6.0)},
]


def _grid() -> torch.Tensor:
    grid = torch.zeros(2, 2, 2, 2)
    for image, cells in enumerate(CELLS):
        for (row, col), feature in cells.items():
            grid[image, :, row, col] = torch.tensor(feature)
    return grid


def test_pooled_regions_are_normalised_means_of_the_cells_inside():
    boxes = torch.tensor(
        [
            [0.0, 0.0, 0.5, 1.0],  # left column of image 0: mean (3, 4)
            [0.0, 0.0, 1.0, 0.5],  # top row of image 0: mean (51, 2)
            [0.0, 0.0, 1.0, 1.0],  # all of image 1: mean (1, 2)
            [0.25, 0.75, 0.75, 0.75],  # centres on the edges count: bottom row of image 1
        ]
    )
    pooled = pool_regions(_grid(), boxes, torch.tensor([0, 0, 1, 1]))
    norm = math.hypot(51, 2)
    expected = [(0.6, 0.8), (51 / norm, 2 / norm), (1 / 5**0.5, 2 / 5**0.5), (0.0, 1.0)]
    assert torch.allclose(pooled, torch.tensor(expected), atol=1e-6)


def test_a_box_holding_no_cell_centre_takes_the_cell_under_its_centre():
    boxes = torch.tensor([[0.55, 0.55, 0.6, 0.6], [0.3, 0.1, 0.4, 0.2]])
    pooled = pool_regions(_grid(), boxes, torch.tensor([0, 1]))
    # Centres (0.575, 0.575) -> cell (1, 1) of image 0 and (0.35, 0.15) -> cell (0, 0) of image 1.
    assert torch.allclose(pooled, torch.tensor([[0.0, 1.0], [1.0, 0.0]]), atol=1e-6)


def test_gradient_reaches_only_the_cells_inside_the_box_of_its_image():
    grid = torch.randn(2, 3, 4, 4, requires_grad=True)
    pooled = pool_regions(grid, torch.tensor([[0.0, 0.0, 0.5, 0.5]]), torch.tensor([1]))
    (pooled * torch.tensor([1.0, -2.0, 0.5])).sum().backward()
    touched = grid.grad.abs().sum(dim=1) > 0
    expected = torch.zeros(2, 4, 4, dtype=torch.bool)
    expected[1, :2, :2] = True
    assert torch.equal(touched, expected)


def test_grain_loss_is_global_plus_weighted_region_infonce():
    image = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    eye = torch.eye(3)
    parts = GrainLoss(region_weight=0.25)(
        image, text, torch.tensor(1.0), eye, eye, torch.tensor([5, 8, 5])
    )
    # Global logits [[1, 0.6], [0, 0.8]], diagonal targets.
    rows = (math.log(math.e + math.exp(0.6)) - 1) + (math.log(1 + math.exp(0.8)) - 0.8)
    cols = (math.log(math.e + 1) - 1) + (math.log(math.exp(0.6) + math.exp(0.8)) - 0.8)
    global_part = (rows + cols) / 4
    # Region logits I; regions 0 and 2 share a text: rows 0 and 2 have targets 1/2 on {0, 2},
    # -(1/2)(1 - log(e + 2)) - (1/2)(0 - log(e + 2)) each; row 1: log(e + 2) - 1.
    region = math.log(math.e + 2) - 2 / 3
    assert parts["global"].item() == pytest.approx(global_part, rel=1e-6)
    assert parts["region"].item() == pytest.approx(region, rel=1e-6)
    assert parts["total"].item() == pytest.approx(global_part + 0.25 * region, rel=1e-6)


def test_no_regions_gives_a_zero_region_part_and_a_differentiable_total():
    image = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1).requires_grad_()
    text = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    empty = torch.zeros(0, 4, requires_grad=True)
    parts = GrainLoss()(image, text, torch.tensor(2.0), empty, empty, torch.zeros(0).long())
    assert parts["region"].item() == 0.0
    assert torch.equal(parts["total"], parts["global"])
    parts["total"].backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
