"""image_token_grid: per-location features in the joint space, for both tower kinds."""

from __future__ import annotations

import pytest
import torch

from cosmoalign.models import (
    ClipBundle,
    ModelSpec,
    build_model,
    image_embedding_and_grid,
    image_token_grid,
)


def test_timm_grid_shape_and_mean_equals_global_embedding(offline_bundle: ClipBundle):
    images = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        grid = image_token_grid(offline_bundle.model, images)
        pooled = offline_bundle.model.encode_image(images)
    assert grid.shape == (2, 256, 4, 4)
    assert torch.allclose(grid.mean(dim=(2, 3)), pooled, atol=1e-5)


def test_timm_grid_follows_the_input_size(offline_bundle: ClipBundle):
    with torch.no_grad():
        grid = image_token_grid(offline_bundle.model, torch.randn(1, 3, 224, 160))
    assert grid.shape == (1, 256, 7, 5)


def test_vit_grid_shape_and_agrees_with_open_clip_intermediates(tiny_bundle: ClipBundle):
    visual = tiny_bundle.model.visual
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        grid = image_token_grid(tiny_bundle.model, images)
        last = visual.forward_intermediates(images, indices=1, normalize_intermediates=True)
        expected = torch.einsum("bchw,ce->behw", last["image_intermediates"][-1], visual.proj)
    assert grid.shape == (2, 32, 4, 4)
    assert torch.allclose(grid, expected, atol=1e-6)


def test_vit_grid_mean_equals_global_embedding_with_average_pooling():
    bundle = build_model(ModelSpec("tiny"))
    bundle.model.visual.pool_type = "avg"
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        grid = image_token_grid(bundle.model, images)
        pooled = bundle.model.encode_image(images)
    assert torch.allclose(grid.mean(dim=(2, 3)), pooled, atol=1e-6)


@pytest.mark.parametrize("bundle_name", ["offline_bundle", "tiny_bundle"])
def test_embedding_and_grid_match_encode_image(bundle_name: str, request):
    bundle: ClipBundle = request.getfixturevalue(bundle_name)
    images = torch.rand(2, 3, bundle.image_size, bundle.image_size)
    with torch.inference_mode():
        embedding, grid = image_embedding_and_grid(bundle.model, images)
        expected = bundle.model.encode_image(images, normalize=True)
        expected_grid = image_token_grid(bundle.model, images)
    assert torch.allclose(embedding, expected, atol=1e-5)
    assert torch.allclose(grid, expected_grid, atol=1e-6)
