"""The tri-modal loss against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from cosmoalign.losses import TriModalLoss


def _diagonal(s00: float, s01: float, s10: float, s11: float) -> float:
    """Symmetric cross-entropy of 2x2 logits with diagonal targets, written out."""
    rows = (math.log(math.exp(s00) + math.exp(s01)) - s00) + (
        math.log(math.exp(s10) + math.exp(s11)) - s11
    )
    cols = (math.log(math.exp(s00) + math.exp(s10)) - s00) + (
        math.log(math.exp(s01) + math.exp(s11)) - s11
    )
    return (rows + cols) / 4


def _all_positive(s00: float, s01: float, s10: float, s11: float) -> float:
    """Symmetric cross-entropy of 2x2 logits whose targets are (1/2, 1/2) in every row."""
    rows = (math.log(math.exp(s00) + math.exp(s01)) - (s00 + s01) / 2) + (
        math.log(math.exp(s10) + math.exp(s11)) - (s10 + s11) / 2
    )
    cols = (math.log(math.exp(s00) + math.exp(s10)) - (s00 + s10) / 2) + (
        math.log(math.exp(s01) + math.exp(s11)) - (s01 + s11) / 2
    )
    return (rows + cols) / 4


IMAGE = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
TEXT = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
SYMBOL = torch.tensor([[0.8, 0.6], [1.0, 0.0]])
# With logit scale 1, the similarity matrices are:
IMAGE_TEXT = (0.6, 0.0, 0.8, 1.0)  # image @ text.T
SYMBOL_TEXT = (0.96, 0.6, 0.6, 0.0)  # symbol @ text.T
IMAGE_SYMBOL = (0.8, 1.0, 0.6, 0.0)  # image @ symbol.T


def test_parts_and_weighted_total_with_distinct_labels():
    loss = TriModalLoss(image_text=1.0, symbol_text=0.5, image_symbol=2.0)
    parts = loss(IMAGE, TEXT, SYMBOL, torch.tensor(1.0), torch.tensor([0, 1]))
    expected = {
        "image_text": _diagonal(*IMAGE_TEXT),
        "symbol_text": _diagonal(*SYMBOL_TEXT),
        "image_symbol": _diagonal(*IMAGE_SYMBOL),
    }
    for name, value in expected.items():
        assert parts[name].item() == pytest.approx(value, rel=1e-6), name
    total = expected["image_text"] + 0.5 * expected["symbol_text"] + 2 * expected["image_symbol"]
    assert parts["total"].item() == pytest.approx(total, rel=1e-6)


def test_shared_labels_make_symbol_pairs_positive_but_not_caption_pairs():
    parts = TriModalLoss()(IMAGE, TEXT, SYMBOL, torch.tensor(1.0), torch.tensor([3, 3]))
    assert parts["image_text"].item() == pytest.approx(_diagonal(*IMAGE_TEXT), rel=1e-6)
    assert parts["symbol_text"].item() == pytest.approx(_all_positive(*SYMBOL_TEXT), rel=1e-6)
    assert parts["image_symbol"].item() == pytest.approx(_all_positive(*IMAGE_SYMBOL), rel=1e-6)
    total = _diagonal(*IMAGE_TEXT) + _all_positive(*SYMBOL_TEXT) + _all_positive(*IMAGE_SYMBOL)
    assert parts["total"].item() == pytest.approx(total, rel=1e-6)
