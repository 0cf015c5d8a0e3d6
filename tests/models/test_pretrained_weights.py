"""The offline default's tower weights: pinned checksums, in-order key mapping, real values."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import load_file
from skimage import data
from transformers import AutoModel

from cosmoalign.files import file_sha256
from cosmoalign.models import ChecksumMismatchError, ClipBundle
from cosmoalign.models.pretrained_weights import (
    EFFICIENTNET_LITE0_SHA256,
    MINILM_SHA256,
    efficientnet_lite0_path,
    load_efficientnet_lite0,
    load_minilm,
    map_in_order,
    minilm_dir,
    verify_sha256,
)

IMAGENET_CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger, Persian, Siamese, Egyptian cat


def tampered_copy(source: Path, tmp_path: Path) -> Path:
    """A copy of ``source`` with one byte near the end flipped."""
    copy = tmp_path / source.name
    shutil.copyfile(source, copy)
    with open(copy, "r+b") as handle:
        handle.seek(-10, 2)
        byte = handle.read(1)
        handle.seek(-10, 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return copy


def test_pinned_checksums_match_the_installed_wheels():
    assert file_sha256(efficientnet_lite0_path()) == EFFICIENTNET_LITE0_SHA256
    assert file_sha256(minilm_dir() / "model.safetensors") == MINILM_SHA256


def test_tampered_efficientnet_weights_are_refused(tmp_path):
    tampered = tampered_copy(efficientnet_lite0_path(), tmp_path)
    actual = file_sha256(tampered)
    with pytest.raises(ChecksumMismatchError) as error:
        verify_sha256(tampered, EFFICIENTNET_LITE0_SHA256)
    assert str(tampered) in str(error.value)
    assert actual in str(error.value) and EFFICIENTNET_LITE0_SHA256 in str(error.value)
    trunk = timm.create_model("efficientnet_lite0", num_classes=0)
    with pytest.raises(ChecksumMismatchError, match=str(tampered)):
        load_efficientnet_lite0(trunk, tampered)


def test_tampered_minilm_weights_are_refused(tmp_path, offline_bundle: ClipBundle):
    tampered = tampered_copy(minilm_dir() / "model.safetensors", tmp_path)
    with pytest.raises(ChecksumMismatchError, match=MINILM_SHA256):
        load_minilm(offline_bundle.model.text.transformer, tampered)


def test_map_in_order_renames_pairwise_and_names_a_shape_mismatch():
    source = {"a.w": torch.zeros(2, 3), "a.b": torch.ones(2)}
    mapped = map_in_order(source, {"x.weight": torch.empty(2, 3), "x.bias": torch.empty(2)})
    assert list(mapped) == ["x.weight", "x.bias"]
    assert torch.equal(mapped["x.bias"], torch.ones(2))
    with pytest.raises(ValueError, match=r"a\.b \(2,\) onto x\.bias \(3,\)"):
        map_in_order(source, {"x.weight": torch.empty(2, 3), "x.bias": torch.empty(3)})
    with pytest.raises(ValueError, match="2 source tensors onto 1"):
        map_in_order(source, {"x.weight": torch.empty(2, 3)})


def test_efficientnet_trunk_holds_the_checkpoint_values(offline_bundle: ClipBundle):
    state = torch.load(efficientnet_lite0_path(), map_location="cpu", weights_only=True)
    trunk = offline_bundle.model.visual.trunk
    assert torch.equal(trunk.conv_stem.weight, state["_conv_stem.weight"])
    assert torch.equal(trunk.blocks[3][1].conv_dw.weight, state["_blocks.6._depthwise_conv.weight"])
    assert torch.equal(trunk.conv_head.weight, state["_conv_head.weight"])
    assert torch.equal(trunk.bn2.running_var, state["_bn1.running_var"])


def test_efficientnet_mapping_keeps_imagenet_semantics():
    """The mapped trunk plus the checkpoint's own classifier recognises a cat."""
    state = torch.load(efficientnet_lite0_path(), map_location="cpu", weights_only=True)
    trunk = timm.create_model("efficientnet_lite0", num_classes=0).eval()
    load_efficientnet_lite0(trunk)
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    image = torch.from_numpy(data.chelsea()).permute(2, 0, 1).float() / 255
    image = torch.nn.functional.interpolate(image[None], size=(224, 224), mode="bilinear")
    with torch.no_grad():
        logits = trunk((image - mean) / std) @ state["_fc.weight"].T + state["_fc.bias"]
    assert int(logits.argmax()) in IMAGENET_CAT_CLASSES


def test_text_tower_matches_the_reference_minilm(offline_bundle: ClipBundle):
    tokens = offline_bundle.tokenizer(["a barred spiral galaxy", "two merging ellipticals"])
    mask = (tokens != 0).long()
    reference = AutoModel.from_pretrained(minilm_dir()).eval()
    with torch.no_grad():
        expected = reference(input_ids=tokens, attention_mask=mask).last_hidden_state
        actual = offline_bundle.model.text.transformer(
            input_ids=tokens, attention_mask=mask
        ).last_hidden_state
    assert torch.allclose(actual, expected, atol=1e-5)


def test_minilm_word_embeddings_come_from_the_checkpoint(offline_bundle: ClipBundle):
    transformer = offline_bundle.model.text.transformer
    state = load_file(minilm_dir() / "model.safetensors")
    assert torch.equal(
        transformer.embeddings.word_embeddings.weight, state["embeddings.word_embeddings.weight"]
    )
