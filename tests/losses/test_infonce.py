"""InfoNCE against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from cosmoalign.losses import InfoNCELoss


def test_diagonal_targets_match_hand_computed_symmetric_cross_entropy():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    # logits = 2 * a @ b.T = [[2.0, 1.2], [0.0, 1.6]]
    row_0 = math.log(math.exp(2.0) + math.exp(1.2)) - 2.0
    row_1 = math.log(math.exp(0.0) + math.exp(1.6)) - 1.6
    col_0 = math.log(math.exp(2.0) + math.exp(0.0)) - 2.0
    col_1 = math.log(math.exp(1.2) + math.exp(1.6)) - 1.6
    a_to_b, b_to_a = (row_0 + row_1) / 2, (col_0 + col_1) / 2
    loss = InfoNCELoss()(a, b, torch.tensor(2.0))
    assert loss.item() == pytest.approx((a_to_b + b_to_a) / 2, rel=1e-6)


def test_equal_groups_share_their_target_mass():
    eye = torch.eye(3)
    # logits = I; rows 0 and 1 are one group, so each has targets (1/2, 1/2, 0):
    # -(1/2)(1 - log(e + 2)) - (1/2)(0 - log(e + 2)) = log(e + 2) - 1/2; row 2: log(e + 2) - 1.
    expected = math.log(math.e + 2) - 2 / 3
    loss = InfoNCELoss()(eye, eye, torch.tensor(1.0), torch.tensor([7, 7, 2]))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_distinct_groups_equal_the_diagonal_loss():
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    scale = torch.tensor(3.0)
    grouped = InfoNCELoss()(a, b, scale, torch.tensor([4, 1, 9, 0]))
    assert torch.allclose(grouped, InfoNCELoss()(a, b, scale))
