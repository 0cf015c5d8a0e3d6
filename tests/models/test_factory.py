"""build_model: the tiny and offline-default models, seeding, tokenizers and transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from open_clip.model import CLIP, CustomTextCLIP
from PIL import Image

from cosmoalign.models import ClipBundle, ModelSpec, build_model


def state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Whether two models of one architecture hold identical tensors."""
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


def test_tiny_builds_a_small_eval_mode_clip():
    bundle = build_model(ModelSpec("tiny"))
    assert isinstance(bundle.model, CLIP)
    assert not bundle.model.training
    assert bundle.image_size == 64
    assert bundle.name == "tiny-vit"


def test_seeding_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = build_model(ModelSpec("tiny"), seed=7)
    assert torch.equal(torch.rand(1), expected_next)
    assert state_equal(first.model, build_model(ModelSpec("tiny"), seed=7).model)
    assert not state_equal(first.model, build_model(ModelSpec("tiny"), seed=8).model)


def test_unseeded_build_follows_torch_manual_seed():
    torch.manual_seed(5)
    first = build_model(ModelSpec("tiny"), seed=None)
    torch.manual_seed(5)
    assert state_equal(first.model, build_model(ModelSpec("tiny"), seed=None).model)


def test_tiny_tokenizer_and_encoders(tiny_bundle: ClipBundle):
    tokens = tiny_bundle.tokenizer(["a spiral galaxy", "an edge-on disk with a dust lane"])
    assert tokens.shape == (2, 32) and tokens.dtype == torch.long
    images = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        assert tiny_bundle.model.encode_image(images).shape == (3, 32)
        assert tiny_bundle.model.encode_text(tokens).shape == (2, 32)
    assert tiny_bundle.model.logit_scale.numel() == 1


def test_image_size_override_reaches_model_and_transforms():
    bundle = build_model(ModelSpec("tiny", image_size=96))
    image = Image.fromarray(np.zeros((200, 150, 3), dtype=np.uint8))
    assert bundle.image_size == 96
    assert bundle.preprocess_val(image).shape == (3, 96, 96)
    assert bundle.preprocess_train(image).shape == (3, 96, 96)
    with torch.no_grad():
        assert bundle.model.encode_image(torch.randn(1, 3, 96, 96)).shape == (1, 32)


def test_offline_default_shapes_and_metadata(offline_bundle: ClipBundle):
    model = offline_bundle.model
    assert isinstance(model, CustomTextCLIP)
    assert not model.training
    assert offline_bundle.image_size == 128
    assert offline_bundle.image_mean == pytest.approx((0.485, 0.456, 0.406))
    assert offline_bundle.model_cfg["vision_cfg"]["timm_model_name"] == "efficientnet_lite0"
    tokens = offline_bundle.tokenizer(["a spiral galaxy", "a red elliptical", "a merger"])
    assert tokens.shape == (3, 64) and tokens.dtype == torch.long
    assert int(tokens[0, 0]) == 101  # BERT's [CLS]
    image = Image.fromarray(np.zeros((424, 424, 3), dtype=np.uint8))
    pixels = offline_bundle.preprocess_val(image)[None]
    assert pixels.shape == (1, 3, 128, 128)
    with torch.no_grad():
        assert model.encode_image(pixels).shape == (1, 256)
        assert model.encode_text(tokens).shape == (3, 256)


def test_offline_default_projections_are_seeded():
    first = build_model(seed=3).model
    again = build_model(seed=3).model
    other = build_model(seed=4).model
    assert torch.equal(first.visual.head.proj.weight, again.visual.head.proj.weight)
    assert torch.equal(first.text.proj.weight, again.text.proj.weight)
    assert not torch.equal(first.text.proj.weight, other.text.proj.weight)
    assert torch.equal(first.visual.trunk.conv_stem.weight, other.visual.trunk.conv_stem.weight)


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="unknown model arch 'no-such-model'"):
        build_model(ModelSpec("no-such-model"))
